"""The block builder in its own process, with helper processes that speculate
sub-calls: the block it seals is byte for byte the one the miner builds alone and
serially, and validators accept it; a builder or helper that dies is started again."""

import os
import signal

import pytest

from common.evm.subcalls import PARALLEL_ADDRESS, SubCall, encode_calls
from common.store.chain import ChainStore
from common.store.kv import LmdbDB
from miner.builder import build_block
from miner.builder_process import BuilderProcess
from tests.conftest import MINER, MINER_KEY, Chain
from tests.test_forkjoin import CONFIG, PEOPLE, A, B, _store_slot, accounts, run_data
from validator.validate import Validator

TIMESTAMP = 1_800_000_000


@pytest.fixture
def store(tmp_path):
    db = LmdbDB(tmp_path / "chain")
    chain_store = ChainStore(db)
    chain_store.open_chain(accounts(), CONFIG)
    yield chain_store
    db.close()


def _fork_join_txs(chain: Chain) -> list[bytes]:
    """Four independent sub-calls (the helper can take two), then two that conflict."""
    independent = [
        SubCall(t, A, run_data([(7, 0, 300), (2, 30 + t, t), (5, t, 0)], [])) for t in (1, 2, 3, 4)
    ]
    dependent = [SubCall(1, B, run_data([(2, 1, 4)], [])), SubCall(2, B, run_data([(1, 1, 0)], []))]
    return [
        chain.tx(PEOPLE[0], PARALLEL_ADDRESS, data=encode_calls(calls), gas=3_000_000)
        for calls in (independent, dependent)
    ]


def test_a_block_built_with_helpers_is_the_block_built_alone(store):
    parent = store.head_state()
    txs = _fork_join_txs(Chain(parent, {}))
    builder = BuilderProcess(store.db, CONFIG, MINER_KEY, helpers=1)
    try:
        built, nodes, lent = builder.build(parent, txs, TIMESTAMP)
    finally:
        builder.close()
    assert lent >= 2  # the helper took its share of both fork-joins
    assert nodes and all(key not in store.db for key in nodes)  # only new trie nodes
    alone = build_block(parent, txs, MINER_KEY, TIMESTAMP)  # writes its nodes itself
    assert built.block.encode() == alone.block.encode()
    assert [o.receipt for o in built.outcomes] == [o.receipt for o in alone.outcomes]
    with store.db.atomic_batch() as batch:
        for key, value in nodes.items():
            batch[key] = value
        store.put_block(batch, built.block, [o.receipt for o in built.outcomes])
    written = built.state.account_db().get_storage(A, _store_slot(31))
    assert written and written == alone.state.account_db().get_storage(A, _store_slot(31))
    with Validator(parent, MINER, workers=2) as validator:
        assert validator.validate(built.block).receipts == tuple(o.receipt for o in alone.outcomes)


def test_a_builder_or_helper_that_died_is_started_again_for_the_next_block(store):
    parent = store.head_state()
    txs = _fork_join_txs(Chain(parent, {}))
    builder = BuilderProcess(store.db, CONFIG, MINER_KEY, helpers=1)
    try:
        first, _, _ = builder.build(parent, txs[:1], TIMESTAMP)
        for which in ("helper", "builder"):
            victim = builder._helpers[0] if which == "helper" else builder._process
            assert victim.pid is not None
            os.kill(victim.pid, signal.SIGKILL)
            victim.join(5)
            again, _, lent = builder.build(parent, txs[:1], TIMESTAMP)
            assert again.block.encode() == first.block.encode() and lent == 2
        assert builder.starts == 3
    finally:
        builder.close()
