"""The on-disk store: LMDB transactions, chain records, restart at the head, and a
validator whose forked workers read the state its main process writes."""

from dataclasses import replace

import pytest

from common.chain.accounts import genesis_alloc
from common.chain.genesis import load_genesis
from common.chain.state import ChainState
from common.errors import PavmError, StoreCorrupted
from common.store import chain as chain_store
from common.store.chain import ChainStore
from common.store.kv import LmdbDB
from loadtest.workloads.contracts import load
from tests.conftest import CONFIG, MINER, Chain
from tests.vectors.make import sample_header
from validator.validate import Validator

PROBE = load("probe")


def test_lmdb_batch_commits_whole_or_not_at_all(tmp_path):
    db = LmdbDB(tmp_path / "kv")
    db[b"a"] = b"1"
    with db.atomic_batch() as batch:
        batch[b"b"] = b"2"
        assert batch[b"a"] == b"1" and batch[b"b"] == b"2"
    assert db[b"b"] == b"2"
    with pytest.raises(RuntimeError), db.atomic_batch() as batch:
        batch[b"c"] = b"3"
        del batch[b"a"]
        raise RuntimeError("crash in the middle of a block")
    assert b"c" not in db and db[b"a"] == b"1"
    db.close()
    reopened = LmdbDB(tmp_path / "kv")
    assert reopened[b"b"] == b"2" and b"c" not in reopened
    with pytest.raises(KeyError):
        reopened[b"missing"]


def _mined_chain(tmp_path, people):
    db = LmdbDB(tmp_path / "miner")
    genesis = ChainState.genesis(genesis_alloc(people), CONFIG, db=db)
    store = ChainStore(db)
    store.initialise(genesis)
    chain = Chain(genesis)
    built = []
    for round_ in range(3):
        txs = [chain.tx(w, people[0].address, value=round_ + 1, gas=21_000) for w in people[1:6]]
        b = chain.mine(txs)
        store.append(b.block, [o.receipt for o in b.outcomes])
        built.append(b)
    return db, genesis, built


def test_chain_records_survive_reopening(tmp_path, people):
    db, _, built = _mined_chain(tmp_path, people)
    db.close()
    store = ChainStore(LmdbDB(tmp_path / "miner"))
    assert store.head_number() == 3
    state = store.head_state()
    assert state.head == built[-1].block.header
    assert state.ancestors[:4] == (*(b.block.hash for b in reversed(built)), state.ancestors[3])
    assert state.config == CONFIG
    last = built[-1]
    assert store.block(3) == last.block and store.block(4) is None
    assert store.number_of(last.block.hash) == 3
    assert store.receipts(3) == [o.receipt for o in last.outcomes]
    from eth_hash.auto import keccak

    assert store.transaction_location(keccak(last.block.transactions[2])) == (3, 2)
    # The state itself is readable at the head.
    assert state.account_db().get_balance(people[0].address) > 0


def test_validator_on_lmdb_stores_blocks_and_restarts(tmp_path, people):
    _, _, built = _mined_chain(tmp_path, people)
    vdb = LmdbDB(tmp_path / "validator")
    vgenesis = ChainState.genesis(genesis_alloc(people), CONFIG, db=vdb)
    store = ChainStore(vdb)
    store.initialise(vgenesis)
    with Validator(vgenesis, MINER, workers=2, store=store) as validator:
        for b in built[:2]:
            validator.validate(b.block)
    vdb.close()

    reopened = ChainStore(LmdbDB(tmp_path / "validator"))
    state = reopened.head_state()
    assert state.head.hash == built[1].block.hash
    with Validator(state, MINER, workers=2, store=reopened) as validator:
        report = validator.validate(built[2].block)
    assert report.receipts == tuple(o.receipt for o in built[2].outcomes)
    assert reopened.head_number() == 3
    assert reopened.receipts(3) == list(report.receipts)


def test_a_truncated_store_is_refused_at_open(tmp_path):
    db = LmdbDB(tmp_path / "kv")
    with db.atomic_batch() as batch:
        for i in range(2000):
            batch[i.to_bytes(4, "big")] = b"x" * 500
    db.close()
    data = tmp_path / "kv" / "data.mdb"
    with open(data, "r+b") as handle:
        handle.truncate(data.stat().st_size // 2)
    with pytest.raises(StoreCorrupted, match="truncated"):
        LmdbDB(tmp_path / "kv")


def test_a_damaged_block_is_reported_not_served(tmp_path, people):
    db, _, _ = _mined_chain(tmp_path, people)
    store = ChainStore(db)
    number = store.head_number()
    key = b"pavm/block/" + number.to_bytes(8, "big")
    data = bytearray(store.db[key])
    data[len(data) // 2] ^= 0x01
    store.db[key] = bytes(data)
    with pytest.raises(StoreCorrupted, match=f"block {number} in the store is damaged"):
        store.block_bytes(number)
    with pytest.raises(StoreCorrupted):
        store.block(number)


def test_a_store_made_with_another_genesis_is_refused_not_run_on(tmp_path):
    """Restarted with a gas schedule (or genesis) other than the one its chain was
    made with, a node refuses its data directory with a message saying why."""
    spec = load_genesis(None)
    db = LmdbDB(tmp_path / "chain")
    try:
        ChainStore(db).open_chain(spec.alloc, spec.config)
        ChainStore(db).open_chain(spec.alloc, spec.config)  # the same files: fine
        gas = replace(spec.config.gas, fork_join=replace(spec.config.gas.fork_join, base=1))
        other = replace(spec.config, gas=gas)
        with pytest.raises(PavmError, match="holds a chain whose block 0 is"):
            ChainStore(db).open_chain(spec.alloc, other)
    finally:
        db.close()


def test_equivocations_are_kept_once_each_and_at_most_max(tmp_path, monkeypatch):
    monkeypatch.setattr(chain_store, "MAX_EQUIVOCATIONS", 2)
    db = LmdbDB(tmp_path / "chain")
    store = ChainStore(db)
    held = sample_header()
    others = [replace(held, timestamp=held.timestamp + i) for i in (1, 2, 3)]
    assert store.put_equivocation(held, others[0], 1.0)
    assert not store.put_equivocation(others[0], held, 2.0)  # the same pair
    assert store.put_equivocation(held, others[1], 3.0)
    with pytest.raises(chain_store.EvidenceFull):
        store.put_equivocation(held, others[2], 4.0)
    assert sorted(e["seenAt"] for e in store.equivocations()) == [1.0, 3.0]
    db.close()
