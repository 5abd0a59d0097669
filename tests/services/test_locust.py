"""The locustfile runs headless against a process-mode testnet with zero failures."""

import csv
import subprocess
import sys
from pathlib import Path

from common import testnet
from tests.services.helpers import start_testnet

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"


def test_locust_reads_without_failures(tmp_path):
    net = start_testnet(tmp_path / "net", validators=1, workers=1, block_interval=0.5)
    try:
        prefix = tmp_path / "stats"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "4s",
                "--host",
                net.miner.url,
                "--csv",
                str(prefix),
                "--only-summary",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        rows = {row["Name"]: row for row in csv.DictReader(open(f"{prefix}_stats.csv"))}
        total = rows["Aggregated"]
        assert int(total["Request Count"]) > 10
        assert int(total["Failure Count"]) == 0
        assert {"eth_blockNumber", "eth_getBalance", "eth_getBlockByNumber"} <= set(rows)
    finally:
        testnet.down(net)
