"""The generator's transactions all succeed, for every workload, at conflict rate 0 and 1,
and its conflict knobs shape the block's groups as they say."""

import pytest

from common.chain.accounts import genesis_alloc, mnemonic_wallets
from common.chain.state import ChainState
from loadtest.bench.validate import MINER_KEY, bench_config
from loadtest.workloads.generator import TxGenerator
from loadtest.workloads.table import WORKLOADS, workload
from miner.builder import build_block
from tests.conftest import reference_root

SENDERS = 6


def _chain(name: str, largest: bool = False, **knobs):
    """A genesis funding the deployer and senders, and the workload's setup mined, at the
    smallest quick scale or the largest full-run scale."""
    spec = WORKLOADS[name]
    scale = max(spec.scales) if largest else spec.quick_scales[0]
    config = bench_config(spec, scale, SENDERS)
    deployer, *senders = mnemonic_wallets(1 + SENDERS)
    state = ChainState.genesis(genesis_alloc([deployer, *senders]), config)
    generator = TxGenerator(spec, scale, config, **knobs)
    for batch in generator.setup(deployer, senders):
        built = build_block(state, batch, MINER_KEY)
        assert not built.skipped and all(o.receipt.status for o in built.outcomes)
        state = built.state
    return state, generator, senders


@pytest.mark.parametrize("largest", [False, True], ids=["smallest", "largest"])
@pytest.mark.parametrize("rate", [0.0, 1.0])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_every_transaction_succeeds_and_conflicts_follow_the_rate(name, rate, largest):
    """Also proves each workload's gas formula covers its largest scale."""
    state, generator, senders = _chain(name, largest, conflict_rate=rate)
    for _ in range(2):  # two blocks: nonces tracked across them
        built = build_block(state, generator.block(senders), MINER_KEY)
        assert not built.skipped
        assert [o.receipt.status for o in built.outcomes] == [1] * SENDERS
        assert reference_root(state, built) == built.block.header.state_root
        groups = len(built.block.groups)
        if rate == 0 or name == "erc20-approve":
            # approve writes allowance[sender][spender]: a hot spender shares no slot.
            assert groups == SENDERS
        else:
            assert groups == 1
        state = built.state


@pytest.mark.parametrize("name", ["erc20", "kvstore-write", "fibonacci"])
def test_group_size_splits_the_block_into_groups_of_that_size(name):
    state, generator, senders = _chain(name, group_size=2)
    built = build_block(state, generator.block(senders), MINER_KEY)
    assert sorted(len(g) for g in built.block.groups) == [2] * (SENDERS // 2)


def test_bad_knobs_are_refused():
    spec = workload("fibonacci")
    config = bench_config(spec, 20, 1)
    with pytest.raises(ValueError, match="conflict rate"):
        TxGenerator(spec, 20, config, conflict_rate=1.5)
    with pytest.raises(ValueError, match="bound"):
        TxGenerator(spec, spec.max_scale + 1, config)
    with pytest.raises(ValueError, match="gas limit"):
        TxGenerator(spec, spec.max_scale, config)
    with pytest.raises(ValueError, match="unknown workload"):
        workload("nope")
