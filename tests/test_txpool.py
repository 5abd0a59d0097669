"""The miner's pool under pressure: a sender's waiting transactions must be covered by
its balance together; a full pool makes room only for a higher tip, by evicting the
lowest; whatever waits past its lifetime leaves; nothing that cannot run makes the
block loop spin."""

import time

import pytest
from eth_hash.auto import keccak

from common.chain.accounts import ETHER, GWEI, Wallet, genesis_alloc, sign, wallets
from common.chain.genesis import GenesisSpec
from common.chain.state import ChainConfig
from common.errors import InvalidTransaction
from miner.node import MinerNode, MinerSettings
from miner.txpool import TxPool

CONFIG = ChainConfig()
RICH, POOR, OTHER = wallets(3, offset=777)
TO = b"\x42" * 20


@pytest.fixture
def node(tmp_path):
    alloc = {**genesis_alloc([RICH, OTHER], 10 * ETHER), **genesis_alloc([POOR], 21_000 * 3 * GWEI)}
    settings = MinerSettings(
        data_dir=tmp_path,
        key=b"\x07" * 32,
        genesis=GenesisSpec(CONFIG, alloc),
        block_txs=1,
        block_interval=3600,
    )
    miner = MinerNode(settings)
    yield miner
    miner.stop()


def _tx(wallet: Wallet, nonce: int, tip: int = 1, fee: int = 1) -> bytes:
    return sign(wallet, nonce, TO, config=CONFIG, gas=21_000, tip=tip * GWEI, max_fee=fee * GWEI)


def test_waiting_transactions_are_paid_for_together(node):
    node.txpool.add(_tx(POOR, 0))
    node.txpool.add(_tx(POOR, 1))
    with pytest.raises(InvalidTransaction, match="queued cost 42000000000000"):
        node.txpool.add(_tx(POOR, 2, fee=2))
    node.txpool.add(_tx(POOR, 2))  # exactly what is left


def test_a_full_pool_evicts_the_lowest_tip_for_a_higher_one_only(node):
    pool = TxPool(node.store, node.lock, lambda: node.state, max_pool=3)
    cheap = pool.add(_tx(RICH, 0, tip=1, fee=50))
    pool.add(_tx(RICH, 1, tip=2, fee=50))
    pool.add(_tx(RICH, 2, tip=3, fee=50))
    with pytest.raises(InvalidTransaction, match="txpool is full"):
        pool.add(_tx(OTHER, 0, tip=1, fee=50))
    richer = pool.add(_tx(OTHER, 0, tip=5, fee=50))
    assert len(pool) == 3 and pool.get(richer) and pool.get(cheap) is None
    assert node.store.transaction_location(cheap) is None
    assert cheap not in {bytes.fromhex(h) for h in _journal(node)}


def _journal(node: MinerNode) -> list[str]:
    return [bytes(keccak(raw)).hex() for raw in node.store.journaled_transactions()]


def test_transactions_past_their_lifetime_leave_pool_and_journal(node):
    pool = TxPool(node.store, node.lock, lambda: node.state, lifetime=0.2)
    gapped = pool.add(_tx(RICH, 5))
    time.sleep(0.3)
    fresh = pool.add(_tx(OTHER, 0))
    assert pool.expire() == [gapped]
    assert pool.get(gapped) is None and pool.get(fresh)
    assert gapped.hex() not in _journal(node)


def test_transactions_behind_a_gap_do_not_make_the_block_loop_spin(node):
    for nonce in range(1, 6):
        node.txpool.add(_tx(RICH, nonce))
    calls = 0
    produce = node.produce_block

    def counted():
        nonlocal calls
        calls += 1
        return produce()

    node.produce_block = counted
    node.start()
    time.sleep(1.0)
    assert calls == 1, "the loop kept trying a pool with nothing to mine"
    node.txpool.add(_tx(RICH, 0))
    deadline = time.monotonic() + 10
    while node.state.head.number == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert node.state.head.number >= 1


def test_transactions_behind_a_gap_never_crowd_out_ones_that_can_run(node):
    pool = TxPool(node.store, node.lock, lambda: node.state, max_pool=3)
    gapped = [pool.add(_tx(RICH, nonce, tip=10, fee=50)) for nonce in (5, 6, 7)]
    with pytest.raises(InvalidTransaction, match="txpool is full"):
        pool.add(_tx(OTHER, 3, tip=1, fee=50))  # gapped itself, and cheaper
    runnable = pool.add(_tx(OTHER, 0, tip=1, fee=50))
    assert pool.get(runnable) and len(pool) == 3
    assert pool.get(gapped[2]) is None  # the newest of the equally cheap gapped ones
    assert pool.get(gapped[0]) and pool.get(gapped[1])


def test_at_most_max_queued_transactions_wait_behind_gaps(node):
    pool = TxPool(node.store, node.lock, lambda: node.state, max_queued=2)
    first, second = (pool.add(_tx(RICH, nonce, tip=5, fee=50)) for nonce in (3, 4))
    with pytest.raises(InvalidTransaction, match="txpool is full"):
        pool.add(_tx(OTHER, 7, tip=1, fee=50))
    richer = pool.add(_tx(OTHER, 7, tip=9, fee=50))
    assert pool.get(richer) and pool.get(first) and pool.get(second) is None
    runnable = [pool.add(_tx(OTHER, nonce, tip=1, fee=50)) for nonce in range(3)]
    assert all(pool.get(h) for h in runnable) and len(pool) == 5


def test_a_pool_full_of_runnable_transactions_takes_no_gapped_one(node):
    pool = TxPool(node.store, node.lock, lambda: node.state, max_pool=2)
    pool.add(_tx(RICH, 0, tip=1, fee=50))
    pool.add(_tx(RICH, 1, tip=1, fee=50))
    with pytest.raises(InvalidTransaction, match="txpool is full"):
        pool.add(_tx(OTHER, 5, tip=9, fee=50))
