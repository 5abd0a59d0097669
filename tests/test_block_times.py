"""Block times: the first record of a block counts, the newest KEPT are remembered,
and pavm_getBlockTimes answers ranges within its bound."""

import pytest

from common.net.block_times import KEPT, BlockTimes
from common.rpc.dispatch import Handler
from common.rpc.errors import RpcError
from common.rpc.pavm import MAX_TIMES_RANGE as MAX_RANGE
from common.rpc.pavm import PavmNodeApi


def block_times_method(times: BlockTimes) -> Handler:
    """``pavm_getBlockTimes`` over ``times``, as a node's table holds it."""
    return PavmNodeApi(dict, times).methods()["pavm_getBlockTimes"]


def test_first_arrival_counts_and_verdicts_attach_once():
    times = BlockTimes()
    times.record(5, "push", 10.0)
    times.record(5, "redis", 9.0)  # a later copy by another transport
    times.judged(5, True, 10.5)
    times.judged(5, False, 11.0)
    assert block_times_method(times)(["0x5", "0x5"]) == [
        {"number": "0x5", "via": "push", "at": 10.0, "verdictAt": 10.5, "accepted": True}
    ]


def test_a_block_dropped_unjudged_is_forgotten_and_its_next_copy_counts():
    times = BlockTimes()
    times.record(7, "push", 1.0)
    times.forget(7)
    times.record(7, "fetch", 2.0)
    times.judged(7, True, 3.0)
    times.forget(7)  # judged: stays
    assert block_times_method(times)(["0x7", "0x7"])[0]["via"] == "fetch"


def test_only_the_newest_blocks_are_kept():
    times = BlockTimes()
    for number in range(KEPT + 10):
        times.record(number, "sealed", float(number))
    assert [t["number"] for t in block_times_method(times)(["0x0", "0xb"])] == ["0xa", "0xb"]
    last = block_times_method(times)([hex(KEPT + 10 - MAX_RANGE), hex(KEPT + 9)])
    assert [int(t["number"], 16) for t in last] == list(range(KEPT + 10 - MAX_RANGE, KEPT + 10))


@pytest.mark.parametrize(
    "params", [["0x5", "0x4"], ["0x0", hex(MAX_RANGE)], ["0x0"], [5, 6], ["0x0", "0x1", "0x2"]]
)
def test_bad_ranges_are_invalid_params(params):
    with pytest.raises(RpcError) as caught:
        block_times_method(BlockTimes())(params)
    assert caught.value.code == -32602
