"""``pavm loadtest``: locust headless against a testnet, then a summary from the chain.

Locust's own numbers say how fast the node answered; what users of a blockchain want
is how many transactions it mined. So after locust stops, this reads every block from
the run's start to the head, finds the transactions the locust users sent (their
hashes come back in ``sent.json``), and counts throughput over the chain time those
blocks span, reverts, transactions never mined, and the validators' verdicts on each
of those blocks. Locust's CSV and HTML reports sit next to ``summary.json``.
"""

import csv
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from common.errors import PavmError
from common.rpc.client import RpcClient
from loadtest.testnet.probe import head
from loadtest.workloads.chain import block_receipts, block_verdicts, chain_seconds

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class LoadSummary:
    """What ``pavm loadtest`` writes to ``summary.json``."""

    target: str
    workload: str
    scale: int
    conflict_rate: float
    users: int
    run_time: str
    sent: int
    mined: int
    reverted: int
    not_mined: int
    blocks: int
    """Blocks holding at least one of the run's transactions."""
    first_block: int
    last_block: int
    chain_seconds: int
    """Seconds between the first and last of those blocks' timestamps, inclusive."""
    throughput_tps: float
    """Mined transactions per second of chain time."""
    throughput_wall_tps: float
    """Mined transactions per second from the first send to the last inclusion seen
    (the miner stamps blocks at least a second apart, so under heavy load chain time
    runs ahead of the clock and the chain figure is the lower one)."""
    txs_per_block_mean: float
    txs_per_block_max: int
    inclusion_p50_ms: float
    inclusion_p95_ms: float
    inclusion_p99_ms: float
    send_failures: int
    """``eth_sendRawTransaction`` calls the node refused."""
    verdicts_agree: int | None
    verdicts_reject: int | None
    """Validators' verdicts on the run's blocks (agree should be validators x blocks;
    None when the target does not serve pavm_getVerdicts)."""
    locust_exit_code: int


def _locust_row(stats_csv: Path, request_type: str) -> dict[str, str]:
    with stats_csv.open() as handle:
        for row in csv.DictReader(handle):
            if row["Type"] == request_type:
                return row
    return {}


def _count_blocks(url: str, start: int, end: int, sent: set[str]) -> tuple[dict[int, int], int]:
    """Per block: how many of ``sent`` it holds; and how many of those reverted."""
    per_block: dict[int, int] = {}
    reverted = 0
    with RpcClient(url, timeout=30) as node:
        for number in range(start + 1, end + 1):
            ours = [r for r in block_receipts(node, number) if r["transactionHash"] in sent]
            if not ours:
                continue
            per_block[number] = len(ours)
            reverted += sum(1 for r in ours if r["status"] != "0x1")
    return per_block, reverted


@dataclass(frozen=True)
class LocustLoad:
    """What locust sends: how many users, for how long, of which workload."""

    users: int
    spawn_rate: float
    run_time: str
    """Locust's ``--run-time`` (``60s``, ``2m``)."""
    workload: str
    conflict_rate: float
    scale: int = -1
    """The workload's scale (-1: its default)."""
    accounts_per_user: int = 2
    tx_wait: float = 0.05
    """Seconds each user waits between sends."""


def locust_command(url: str, load: LocustLoad, out: Path) -> list[str]:
    """Locust headless on the workload locustfile, its CSV and HTML reports in ``out``
    and the acknowledged hashes, with their send times, in ``out/sent.json``."""
    options = {
        "--users": load.users,
        "--spawn-rate": load.spawn_rate,
        "--run-time": load.run_time,
        "--host": url,
        "--csv": out / "locust",
        "--html": out / "locust.html",
        "--workload": load.workload,
        "--conflict-rate": load.conflict_rate,
        "--scale": load.scale,
        "--accounts-per-user": load.accounts_per_user,
        "--tx-wait": load.tx_wait,
        "--sent-file": out / "sent.json",
    }
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
    command.append("--csv-full-history")
    for option, value in options.items():
        command += [option, str(value)]
    return command


def run_loadtest(target: str, load: LocustLoad, out: Path) -> LoadSummary:
    """Run locust headless against ``target``, then summarise from the mined blocks."""
    url = target.rstrip("/")
    try:
        start = head(url)
    except (httpx.HTTPError, PavmError, ValueError) as exc:
        raise RuntimeError(f"no JSON-RPC node answers at {url}: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    sent_file = out / "sent.json"
    sent_file.unlink(missing_ok=True)
    command = locust_command(url, load, out)
    print(f"[loadtest] {' '.join(command[2:])}", file=sys.stderr, flush=True)
    code = subprocess.run(command, check=False).returncode
    if not sent_file.exists():
        raise RuntimeError(f"locust exited with code {code} before the run ended (see above)")
    record = json.loads(sent_file.read_text())
    sent = set(record["sent"])
    time.sleep(1)
    end = head(url)
    print(f"[loadtest] reading blocks {start + 1}..{end}", file=sys.stderr, flush=True)
    per_block, reverted = _count_blocks(url, start, end, sent)
    mined = sum(per_block.values())
    seconds = chain_seconds(url, min(per_block), max(per_block)) if per_block else 0
    wall = (record["last_inclusion"] or 0) - (record["first_send"] or 0)
    print("[loadtest] waiting for the validators' verdicts", file=sys.stderr, flush=True)
    table = block_verdicts(url, sorted(per_block), None, 60)
    agree: int | None = None
    reject: int | None = None
    if table:
        agree = sum(bool(v["agree"]) for rows in table.values() for v in rows)
        reject = sum(not v["agree"] for rows in table.values() for v in rows)
    inclusion = _locust_row(out / "locust_stats.csv", "inclusion")
    sending = _locust_row(out / "locust_stats.csv", "POST")
    return LoadSummary(
        target=url,
        workload=record["workload"],
        scale=record["scale"],
        conflict_rate=record["conflict_rate"],
        users=load.users,
        run_time=load.run_time,
        sent=len(sent),
        mined=mined,
        reverted=reverted,
        not_mined=len(sent) - mined,
        blocks=len(per_block),
        first_block=min(per_block, default=0),
        last_block=max(per_block, default=0),
        chain_seconds=seconds,
        throughput_tps=round(mined / seconds, 2) if seconds else 0.0,
        throughput_wall_tps=round(mined / wall, 2) if wall > 0 else 0.0,
        txs_per_block_mean=round(mined / len(per_block), 1) if per_block else 0.0,
        txs_per_block_max=max(per_block.values(), default=0),
        inclusion_p50_ms=float(inclusion.get("50%") or 0),
        inclusion_p95_ms=float(inclusion.get("95%") or 0),
        inclusion_p99_ms=float(inclusion.get("99%") or 0),
        send_failures=int(sending.get("Failure Count") or 0),
        verdicts_agree=agree,
        verdicts_reject=reject,
        locust_exit_code=code,
    )


def write_summary(summary: LoadSummary, out: Path) -> Path:
    path = out / "summary.json"
    path.write_text(json.dumps(as_dict(summary), indent=1) + "\n")
    return path


def as_dict(summary: LoadSummary) -> dict[str, Any]:
    return asdict(summary)
