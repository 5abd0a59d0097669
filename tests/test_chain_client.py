"""Setup batches are cut into windows the pool accepts (64 waiting per sender)."""

from common.chain.accounts import sign, wallets
from common.chain.state import ChainConfig
from common.evm.forks import decode_transaction
from loadtest.workloads.chain import windows


def test_windows_keep_each_sender_within_the_pool_limit_and_the_order():
    a, b, c = wallets(3, offset=4242)
    config = ChainConfig()
    batch = [sign(a, n, b.address, config=config, gas=21_000) for n in range(10)]
    batch += [sign(b, n, a.address, config=config, gas=21_000) for n in range(3)]
    batch += [sign(c, 0, a.address, config=config, gas=21_000)]
    cut = windows(batch, ahead=4)
    assert [len(w) for w in cut] == [4, 4, 6]
    assert [raw for w in cut for raw in w] == batch
    for window in cut:
        senders = [decode_transaction(raw).sender for raw in window]
        assert max(senders.count(s) for s in set(senders)) <= 4
