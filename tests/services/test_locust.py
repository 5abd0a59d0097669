"""The locustfile loads a process-mode testnet with a workload: ``pavm loadtest`` runs it
headless and its stats, its inclusion entry and the chain-side summary all agree."""

import csv
import json

import pytest
from typer.testing import CliRunner

from common.rpc.client import call
from loadtest.cli.app import app
from loadtest.testnet import process as testnet
from tests.services.helpers import start_testnet


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    net = start_testnet(tmp_path_factory.mktemp("net"), validators=1, workers=1, block_interval=0.5)
    yield net
    testnet.down(net)


@pytest.mark.parametrize("workload", ["erc20", "fibonacci"])
def test_pavm_loadtest_runs_locust_headless_without_failures(net, tmp_path, workload):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "loadtest",
            "--target",
            net.miner.url,
            "--users",
            "3",
            "--spawn-rate",
            "3",
            "--run-time",
            "15s",  # includes deploying the contract and funding the users
            "--workload",
            workload,
            "--conflict-rate",
            "0.3",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    with open(out / "locust_stats.csv", newline="") as stats:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(stats)}
    sent = rows[("POST", "eth_sendRawTransaction")]
    inclusion = rows[("inclusion", workload)]
    assert int(sent["Request Count"]) > 5 and int(sent["Failure Count"]) == 0
    assert int(inclusion["Failure Count"]) == 0
    assert int(inclusion["Request Count"]) == int(sent["Request Count"])
    assert (out / "locust.html").stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["workload"] == workload
    # Every sent transaction was found in a block, none reverted, and the validator
    # agreed with every block that held one.
    assert summary["sent"] == summary["mined"] == int(sent["Request Count"])
    assert summary["reverted"] == 0 and summary["not_mined"] == 0
    assert summary["blocks"] >= 1 and summary["throughput_tps"] > 0
    assert summary["throughput_wall_tps"] > 0
    assert summary["verdicts_agree"] == summary["blocks"] and summary["verdicts_reject"] == 0
    # The transactions went to one contract, the one the run deployed.
    receipt = call(
        net.miner.url,
        "eth_getTransactionReceipt",
        [json.loads((out / "sent.json").read_text())["sent"][0]],
    )
    assert receipt["to"] == json.loads((out / "sent.json").read_text())["contract"]


def test_pavm_loadtest_refuses_an_unreachable_target(tmp_path):
    result = CliRunner().invoke(
        app,
        ["loadtest", "--target", "http://127.0.0.1:9", "--run-time", "1s", "--out", str(tmp_path)],
    )
    assert result.exit_code == 1 and "no JSON-RPC node answers" in result.output
