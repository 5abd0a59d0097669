"""The benchmark's workloads group as their conflict rate says, and all roots agree."""

import json

import pytest
from typer.testing import CliRunner

from loadtest.bench.validate import run_validate_bench
from loadtest.cli.app import app


@pytest.mark.parametrize("workload", ["transfer", "erc20"])
def test_conflict_free_blocks_split_into_one_group_per_transaction(workload):
    result = run_validate_bench(workload, txs=12, conflict_rate=0.0, workers=2, repeat=1)
    assert result.roots_equal
    assert result.groups == 12 and result.largest_group == 1
    assert result.rwset_bytes > 0 and result.block_bytes > result.rwset_bytes


def test_fully_conflicting_block_is_one_group():
    result = run_validate_bench("erc20", txs=10, conflict_rate=1.0, workers=2, repeat=1)
    assert result.roots_equal and result.groups == 1 and result.largest_group == 10


def test_cli_prints_json_and_refuses_bad_input():
    runner = CliRunner()
    ok = runner.invoke(app, ["bench", "validate", "--txs", "4", "--repeat", "1", "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout.strip().splitlines()[-1])
    assert data["txs"] == 4 and data["roots_equal"] is True
    bad = runner.invoke(app, ["bench", "validate", "--workload", "nope", "--txs", "2"])
    assert bad.exit_code != 0 and "unknown workload" in bad.output


def test_intra_bench_lends_sub_calls_and_agrees_with_the_serial_contract(tmp_path):
    """Three threads on two workers: the idle worker takes one sub-call, the parallel
    contract stores what the serial one stores, and every root agrees."""
    out = tmp_path / "intra.json"
    runner = CliRunner()
    args = ["bench", "intra", "--workload", "histogram", "--scale", "300", "--threads", "3"]
    ok = runner.invoke(app, [*args, "--repeat", "1", "--json", "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    data = json.loads(out.read_text())
    assert data == json.loads(ok.stdout.strip().splitlines()[-1])
    assert data["results_equal"] is True and data["roots_equal"] is True
    assert data["lent"] == 1 and data["threads"] == 3
    assert data["gas_parallel"] > data["gas_serial"]  # the fork-join's own cost
    assert len(data["core_utilisation"]) == data["cores"]
    # the miner's builder with one helper sealed the same block, the helper ran a part
    assert data["miner_blocks_equal"] is True and data["miner_lent"] == 1


def test_intra_bench_refuses_a_workload_without_a_parallel_version():
    bad = CliRunner().invoke(app, ["bench", "intra", "--workload", "erc20", "--repeat", "1"])
    assert bad.exit_code != 0 and "no parallel version" in bad.output
