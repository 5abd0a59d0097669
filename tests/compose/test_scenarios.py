"""Two shipped scenarios played end to end with ``pavm scenario run``, as a user runs
it, on one testnet: the first brings it up, the second reuses it.

- ``ci-wan-lossy``: block propagation to the validators 80 ms away grows by at least
  those 80 ms over the perfect links' (the transparent delay proxy at work), and
  1 % loss with 20 Mbit/s loses nothing acknowledged;
- ``ci-partition-restart``: the partition and the restart are each seen and
  recovered from, the partitioned validator fetches what it missed, and no verdict
  is missing at the end;
- both: every acknowledged transaction mined (by hash), every node's state root
  equal at the end, and the report written with its plots.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtest.testnet.compose import REPOSITORY

pytestmark = pytest.mark.compose
PROJECT = "pavmscn"
PNG = b"\x89PNG\r\n\x1a\n"


def _play(name: str, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.cli",
            "scenario",
            "run",
            str(REPOSITORY / "scenarios" / f"{name}.yml"),
            "--project",
            PROJECT,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert "[scenario]" in done.stderr and " tx/s " in done.stderr  # progress was shown
    for picture in ("throughput.png", "latency.png", "propagation.png"):
        assert (out / picture).read_bytes().startswith(PNG)
    assert "**PASS** every acknowledged transaction mined" in (out / "report.md").read_text()
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    return results


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """Both scenarios' results, in order, on one testnet removed afterwards."""
    out = tmp_path_factory.mktemp("scenarios")
    try:
        yield {name: _play(name, out / name) for name in ("ci-wan-lossy", "ci-partition-restart")}
    finally:
        subprocess.run(
            [str(REPOSITORY / "scripts/testnet-down"), "-v", "--remove-orphans"],
            env={
                **os.environ,
                "COMPOSE_PROJECT_NAME": PROJECT,
                "COMPOSE_FILE": "docker-compose.yml:compose/scenario.yml",
            },
            timeout=300,
            check=False,
        )


def _always_holds(results: dict[str, Any]) -> None:
    mined = results["checks"]["acknowledged_mined"]
    assert mined["sent"] > 100 and mined["ok"], mined
    roots = results["checks"]["state_roots_equal"]
    assert roots["ok"] and len(roots["roots"]) == 5, roots  # the miner and 4 validators
    assert results["checks"]["verdicts"]["reject"] == 0


def test_link_latency_delays_propagation_and_loss_loses_nothing(played):
    results = played["ci-wan-lossy"]
    _always_holds(results)
    classes = results["propagation_ms"]
    far, near = classes["80 ms, 20 Mbit/s, 1 % loss"], classes["perfect"]
    assert far["count"] >= 10 and near["count"] >= 10, classes
    assert far["p50"] - near["p50"] >= 80, classes
    assert results["throughput"]["mean_tps"] > 0
    delays = results["inclusion_to_verdict_ms"]
    assert set(delays) == {f"validator-{i}" for i in range(1, 5)}
    assert all(d["count"] > 0 for d in delays.values())


def test_partition_and_restart_are_seen_and_recovered_from(played):
    results = played["ci-partition-restart"]
    _always_holds(results)
    assert results["checks"]["verdicts"]["missing"] == 0
    rows = {row["action"]: row for row in results["faults"]}
    assert set(rows) == {"partition", "heal", "restart"}
    partition, heal, restart = rows["partition"], rows["heal"], rows["restart"]
    assert partition["nodes"] == ["validator-3"]
    assert partition["detected_after_s"] is not None
    assert heal["back_at_head_after_s"] is not None and heal["refetched"] > 0
    assert restart["detected_after_s"] is not None
    assert restart["back_at_head_after_s"] is not None
