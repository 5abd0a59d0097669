"""The network benchmark counts every sent transaction as mined and agreed upon."""

from loadtest.bench.network import run_network_bench
from loadtest.testnet.settings import TestnetSettings


def test_network_bench_accounts_for_every_transaction(tmp_path):
    result = run_network_bench(
        "transfer",
        40,
        TestnetSettings(validators=2, workers=1, block_txs=15, block_interval=0.3),
        data_dir=tmp_path,
    )
    assert result.mined == 40 and result.blocks >= 3
    assert result.agreement
    assert 0 < result.latency_p50_s <= result.latency_p95_s <= result.latency_p99_s
    assert set(result.validation_ms) == {"validator-1", "validator-2"}
    assert result.serial_ms_per_block > 0 and all(v > 0 for v in result.speedup.values())


def test_transactions_beyond_a_blocks_gas_wait_for_the_next_block(tmp_path):
    """120 KVStore writes of 25 slots (the default scale) declare about 76M gas: three
    30M blocks at least. The miner defers what does not fit instead of dropping it, so
    all are mined."""
    result = run_network_bench(
        "kvstore-write",
        120,
        TestnetSettings(validators=1, workers=1, block_txs=300, block_interval=0.3),
        data_dir=tmp_path,
    )
    assert result.mined == 120 and result.blocks >= 3
    assert result.agreement
