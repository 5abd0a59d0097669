"""Faults on a running process-mode testnet.

- a validator killed with SIGKILL while blocks flow restarts, catches up and agrees;
- the miner killed with SIGKILL after eth_sendRawTransaction returned mines the
  transaction after restarting (the pool journal);
- a block signed by another key is dropped by a validator, whatever it says;
- a tampered block signed by the miner's key gets a reject verdict with its reason;
- the miner's header over another body, and a stranger's header over an undecodable
  body, are dropped messages, never verdicts.
"""

import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from eth_account import Account

from common.chain.accounts import GWEI, Wallet, dev_accounts, sign
from common.chain.block import Block, Header
from common.chain.grouping import groups_encoding, groups_hash
from common.chain.roots import receipt_commitments, transactions_root
from common.chain.rwset import block_rwset_encoding, rwset_hash
from common.chain.state import ChainConfig, next_base_fee
from common.encoding import codec
from common.net.keyfile import load_or_create_key
from common.rpc.client import NodeError, call
from loadtest.testnet import process as testnet
from tests.services.helpers import all_agree, metric, start_testnet, wait_for

CONFIG = ChainConfig()
RECEIVER = bytes.fromhex("00" * 19 + "99")


def _send_many(url: str, wallet: Wallet, start_nonce: int, count: int) -> list[str]:
    hashes = []
    for nonce in range(start_nonce, start_nonce + count):
        raw = sign(wallet, nonce, RECEIVER, config=CONFIG, value=1, gas=21_000)
        hashes.append(call(url, "eth_sendRawTransaction", ["0x" + raw.hex()]))
    return hashes


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = start_testnet(
        tmp_path_factory.mktemp("faults"),
        validators=2,
        workers=1,
        transport="both",
        block_interval=0.2,
        block_txs=10,
        validator_args=["--poll-interval", "0.5"],
    )
    yield network
    testnet.down(network)


def test_killed_validator_catches_up_and_agrees(net):
    sender = dev_accounts(5)[4]
    victim = net.validators[0]
    flowing = threading.Thread(target=_send_many, args=(net.miner.url, sender, 0, 40))
    flowing.start()
    os.kill(victim.pid, signal.SIGKILL)
    flowing.join()
    testnet.restart(net, victim.name)
    testnet.wait_healthy(victim.url, victim.pid)
    head = wait_for(lambda: all_agree(net), timeout=90, what="agreement after the restart")
    assert head >= 2
    assert int(call(victim.url, "eth_blockNumber"), 16) >= head
    _blocks_mined_while_down_were_fetched(net, victim, head)


def _blocks_mined_while_down_were_fetched(net, victim, head: int) -> None:
    """The restarted validator's block times: what it missed came by fetch, the rest
    by push or Redis; each arrived after the miner sealed it and was judged after it
    arrived; the fetched ones are counted in its metrics."""
    start = max(1, head - 255)
    span = [hex(start), hex(head)]
    sealed = {
        int(t["number"], 16): t["at"] for t in call(net.miner.url, "pavm_getBlockTimes", span)
    }
    assert set(sealed) == set(range(start, head + 1))
    assert {t["via"] for t in call(net.miner.url, "pavm_getBlockTimes", span)} == {"sealed"}
    times = call(victim.url, "pavm_getBlockTimes", span)
    assert times, "the restarted validator remembers no block times"
    fetched = [t for t in times if t["via"] == "fetch"]
    assert fetched, "nothing was fetched after the restart"
    assert {t["via"] for t in times} <= {"push", "redis", "fetch"}
    for entry in times:
        number = int(entry["number"], 16)
        assert sealed[number] <= entry["at"] <= entry["verdictAt"], entry
        assert entry["accepted"] is True
    assert metric(victim.url, "pavm_blocks_arrived_total", 'via="fetch"') >= len(fetched)
    with pytest.raises(NodeError, match="at most 256"):
        call(victim.url, "pavm_getBlockTimes", ["0x0", hex(300)])


def test_miner_killed_after_acknowledging_still_mines(net):
    sender = dev_accounts(6)[5]
    miner = net.miner
    # Restart the miner so that it will not mine on its own before it is killed.
    os.kill(miner.pid, signal.SIGKILL)
    testnet.restart(net, "miner", ["--block-interval", "3600", "--block-txs", "1000"])
    testnet.wait_healthy(miner.url, miner.pid)
    raw = sign(sender, 0, RECEIVER, config=CONFIG, value=7, gas=21_000, tip=2 * GWEI)
    tx_hash = call(miner.url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    assert call(miner.url, "eth_getTransactionByHash", [tx_hash])["blockNumber"] is None
    os.kill(miner.pid, signal.SIGKILL)
    testnet.restart(net, "miner")
    testnet.wait_healthy(miner.url, miner.pid)
    receipt = wait_for(
        lambda: call(miner.url, "eth_getTransactionReceipt", [tx_hash]),
        what="the acknowledged transaction mined after the restart",
    )
    assert receipt["status"] == "0x1"
    wait_for(lambda: all_agree(net), timeout=60, what="validators agreeing after the restart")


def _idle_head(net) -> tuple[Block, testnet.NodeProcess]:
    """The head block once the chain is idle and the validator has it."""
    validator = net.validators[1]
    head = wait_for(lambda: all_agree(net), timeout=60, what="an idle, agreed chain")
    wait_for(
        lambda: int(call(validator.url, "eth_blockNumber"), 16) == head,
        what="the validator at the head",
    )
    data = httpx.get(f"{net.miner.url}/blocks/{head}", timeout=5).content
    return Block.decode(data), validator


def _empty_child(parent: Block, **changes: Any) -> Header:
    """The header of a correct empty block on ``parent``, with ``changes``."""
    empty = receipt_commitments([], [])
    header = Header(
        parent_hash=parent.hash,
        number=parent.header.number + 1,
        timestamp=parent.header.timestamp + 1,
        beneficiary=parent.header.beneficiary,
        state_root=parent.header.state_root,
        transactions_root=transactions_root([]),
        receipts_root=empty.receipts_root,
        logs_bloom=empty.logs_bloom,
        op_receipts_root=empty.op_receipts_root,
        rwset_hash=rwset_hash(block_rwset_encoding([])),
        groups_hash=groups_hash(groups_encoding([], [])),
        gas_used=0,
        gas_limit=parent.header.gas_limit,
        base_fee=next_base_fee(parent.header, CONFIG),
    )
    return replace(header, **changes)


def _push(validator: testnet.NodeProcess, data: bytes, counter: str, label: str) -> None:
    """Push ``data`` to the validator and wait until its ``counter{label}`` goes up."""
    before = metric(validator.url, counter, label)
    httpx.post(validator.url + "/blocks", content=data, timeout=5)
    wait_for(lambda: metric(validator.url, counter, label) > before, what=f"{counter}{{{label}}}")


def _miner_key(net: testnet.Testnet) -> bytes:
    """The testnet's miner key, read from its data dir (as someone with the files could)."""
    return load_or_create_key(Path(net.data_dir) / "miner" / "miner.key")


@contextmanager
def _verdicts(net: testnet.Testnet) -> Iterator[redis.client.PubSub]:
    """A subscription to pavm:verdicts for the duration of the block."""
    assert net.redis_url is not None
    with redis.Redis.from_url(net.redis_url, password=net.redis_password()) as client:
        channel = client.pubsub(ignore_subscribe_messages=True)
        channel.subscribe("pavm:verdicts")
        yield channel


def _verdict_on(channel: redis.client.PubSub, block_hash: str) -> dict[str, object] | None:
    message = channel.get_message(timeout=0.5)
    if message and message["type"] == "message":
        verdict: dict[str, object] = json.loads(message["data"])
        if verdict["block_hash"] == block_hash:
            return verdict
    return None


DROPPED = "pavm_dropped_blocks_total"
REJECTED = "pavm_rejected_blocks_total"


def test_block_from_another_key_is_dropped(net):
    parent, validator = _idle_head(net)
    forged = Block(_empty_child(parent).signed_by(Account.create().key), (), (), (), ())
    _push(validator, forged.encode(), DROPPED, 'cause="signature"')
    assert int(call(validator.url, "eth_blockNumber"), 16) == parent.header.number
    verdicts = call(net.miner.url, "pavm_getVerdicts", [hex(forged.header.number)])
    assert all(v["validator"] != validator.name for v in verdicts)


def test_tampered_block_gets_a_reject_verdict(net):
    parent, validator = _idle_head(net)
    lying = _empty_child(parent, state_root=b"\x01" * 32).signed_by(_miner_key(net))
    tampered = Block(lying, (), (), (), ())
    with _verdicts(net) as channel:
        _push(
            validator,
            tampered.encode(),
            "pavm_rejected_blocks_total",
            'reason="state_root_mismatch"',
        )
        published = wait_for(
            lambda: _verdict_on(channel, "0x" + tampered.hash.hex()), what="the reject verdict"
        )
    assert published["validator"] == validator.name and not published["agree"]
    reason = published["reason"]
    assert isinstance(reason, str) and reason.startswith("state_root_mismatch")
    # The miner keeps verdicts on the blocks it mined only: not on this one.
    verdicts = call(net.miner.url, "pavm_getVerdicts", [hex(tampered.header.number)])
    assert all(v["block_hash"] != published["block_hash"] for v in verdicts)
    assert int(call(validator.url, "eth_blockNumber"), 16) == parent.header.number
    bad = call(validator.url, "debug_getBadBlocks")
    assert bad[-1]["hash"] == "0x" + tampered.hash.hex() == bad[-1]["block"]["hash"]
    assert call(net.miner.url, "debug_getBadBlocks") == []


def test_a_signed_header_with_another_body_is_dropped_not_judged(net):
    """Anyone can copy the miner's header and push it with a body of their own: the
    validator must drop that message, not report a reject on the miner's block."""
    parent, validator = _idle_head(net)
    header = _empty_child(parent).signed_by(_miner_key(net))
    stray = sign(dev_accounts(1)[0], 0, RECEIVER, config=CONFIG, gas=21_000)
    swapped = Block(header, (stray,), (), (), ())
    with _verdicts(net) as channel:
        _push(validator, swapped.encode(), DROPPED, 'cause="body_mismatch"')
        for _ in range(4):
            assert _verdict_on(channel, "0x" + swapped.hash.hex()) is None
    assert int(call(validator.url, "eth_blockNumber"), 16) == parent.header.number


def test_a_strangers_header_is_dropped_before_its_body_is_decoded(net):
    """The signature is checked on the header alone: a body that would not even decode
    is never looked at when a stranger signed the header."""
    parent, validator = _idle_head(net)
    header = _empty_child(parent).signed_by(Account.create().key)
    junk = codec.encode([header.to_rlp(), b"not a list of transactions", [], []])
    malformed = metric(validator.url, DROPPED, 'cause="malformed"')
    _push(validator, junk, DROPPED, 'cause="signature"')
    assert metric(validator.url, DROPPED, 'cause="malformed"') == malformed
