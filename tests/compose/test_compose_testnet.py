"""The containerised testnet, for real: 25 validators, faults, recovery.

Brings the compose stack up with scripts/testnet-up under its own project name and
host port (Redis transport, so a Redis outage really opens gaps that validators
must fill over HTTP), then: every validator agrees on every block; a killed
validator, a validator cut off the network, a Redis restart and a killed miner are
each recovered from with no block lost. The stack and its networks and volumes are
removed whatever happens.
"""

import json
import os
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from common.chain.accounts import dev_accounts, sign
from common.chain.state import ChainConfig
from common.rpc.client import call
from loadtest.testnet import compose
from loadtest.testnet import process as testnet

pytestmark = pytest.mark.compose
ROOT = Path(__file__).resolve().parents[2]
VALIDATORS = int(os.environ.get("PAVM_COMPOSE_VALIDATORS", "25"))
CONFIG = ChainConfig()


class Sender:
    """Signs transfers from the funded dev accounts with locally tracked nonces."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.wallets = dev_accounts(10)
        self.nonces = {
            w.address: int(
                call(url, "eth_getTransactionCount", ["0x" + w.address.hex(), "pending"]), 16
            )
            for w in self.wallets
        }
        self.acknowledged: list[str] = []

    def send(self, count: int, pause: float = 0.0) -> list[str]:
        hashes = []
        for i in range(count):
            wallet = self.wallets[i % len(self.wallets)]
            nonce = self.nonces[wallet.address]
            raw = sign(
                wallet, nonce, bytes(19) + bytes([i % 250 + 1]), config=CONFIG, value=1, gas=21_000
            )
            hashes.append(call(self.url, "eth_sendRawTransaction", ["0x" + raw.hex()], timeout=10))
            self.nonces[wallet.address] = nonce + 1
            if pause:
                time.sleep(pause)
        self.acknowledged += hashes
        return hashes


def _compose_env(port: int, locust_port: int, prometheus_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "COMPOSE_PROJECT_NAME": "pavmci",
        "COMPOSE_PROFILES": "load,monitoring",
        "PAVM_WORKLOAD": "erc20",
        "PAVM_CONFLICT_RATE": "0.2",
        "PAVM_LOCUST_PORT": str(locust_port),
        "PAVM_PROMETHEUS_PORT": str(prometheus_port),
        "PAVM_RPC_PORT": str(port),
        "VALIDATORS": str(VALIDATORS),
        "PAVM_WORKERS": "1",
        "PAVM_TRANSPORT": "redis",
        "BLOCK_TXS": "100",
        "BLOCK_INTERVAL": "1",
    }


@pytest.fixture(scope="module")
def ports():
    """Host ports of the miner's JSON-RPC, locust's web UI and Prometheus' UI."""
    chosen: list[int] = []
    while len(chosen) < 3:
        port = testnet.free_base_port(span=1)
        if port not in chosen:
            chosen.append(port)
    return tuple(chosen)


@pytest.fixture(scope="module")
def stack(ports):
    env = _compose_env(*ports)
    try:
        subprocess.run([str(ROOT / "scripts/testnet-up")], env=env, check=True, timeout=1200)
        yield f"http://127.0.0.1:{ports[0]}"
    finally:
        subprocess.run(
            [str(ROOT / "scripts/testnet-down"), "-v", "--remove-orphans"],
            env=env,
            timeout=300,
            check=False,
        )


def _validators() -> dict[str, Any]:
    """hostname -> container of every validator (docker's objects carry no types)."""
    return {
        n.container.attrs["Config"]["Hostname"]: n.container
        for n in compose.nodes("pavmci")
        if n.service == "validator"
    }


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def _all_mined(url: str, hashes: list[str]) -> bool:
    return all(call(url, "eth_getTransactionReceipt", [h]) for h in hashes)


def _every_block_agreed(url: str) -> int | None:
    """The head once every validator agreed on every block up to it. Until then it
    raises, naming the first block short of verdicts, who is missing and what each of
    them last logged, so a timeout says where the network stands."""
    validators = _validators()
    head = int(call(url, "eth_blockNumber"), 16)
    for number in range(1, head + 1):
        verdicts = call(url, "pavm_getVerdicts", [hex(number)])
        missing = set(validators) - {v["validator"] for v in verdicts if v["agree"]}
        if missing:
            rejected = [v for v in verdicts if not v["agree"]]
            tails = {
                name: validators[name].logs(tail=4).decode(errors="replace")
                for name in sorted(missing)[:3]
            }
            raise ValueError(
                f"head {head}: block {number} lacks {len(missing)} agreeing verdicts "
                f"(rejected: {rejected}); last logs: {tails}"
            )
    return head or None


def test_every_validator_agrees_on_every_block(stack):
    sender = Sender(stack)
    hashes = sender.send(300)
    _wait(lambda: _all_mined(stack, hashes), 180, "300 transactions mined")
    head = _wait(lambda: _every_block_agreed(stack), 300, f"{VALIDATORS} validators agreeing")
    assert head >= 3


def _prometheus(ports, query: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"http://127.0.0.1:{ports[2]}/api/v1/query", params={"query": query}, timeout=10
    )
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def test_prometheus_scrapes_every_validator_and_records_the_rules(stack, ports):
    """The `monitoring` profile: every validator replica, found through Docker's DNS, is
    an `up` target, and so are the miner and Redis' exporter; the recording rules have
    values."""

    def targets() -> Counter[str] | None:
        active = httpx.get(f"http://127.0.0.1:{ports[2]}/api/v1/targets", timeout=10).json()
        up = Counter(
            t["labels"]["job"] for t in active["data"]["activeTargets"] if t["health"] == "up"
        )
        return up if up == Counter(validator=VALIDATORS, miner=1, redis=1) else None

    _wait(targets, 120, f"Prometheus scraping {VALIDATORS} validators, the miner and Redis")

    def recorded() -> dict[str, float] | None:
        values = {}
        for rule in ("pavm:validators_up:count", "pavm:txs:rate1m", "pavm:speedup_estimate:avg"):
            result = _prometheus(ports, rule)
            if not result:
                return None
            values[rule] = float(result[0]["value"][1])
        return values

    values = _wait(recorded, 60, "the recording rules evaluated")
    assert values["pavm:validators_up:count"] == VALIDATORS
    assert values["pavm:speedup_estimate:avg"] > 0
    assert _prometheus(ports, "redis_up")[0]["value"][1] == "1"


def test_the_dashboard_shows_every_validator(stack):
    """The miner's dashboard reaches every replica at the address it registered."""

    def everyone() -> dict[str, Any] | None:
        overview = httpx.get(f"{stack}/dashboard/api/overview", timeout=10).json()
        rows = overview["validators"]
        reporting = [v for v in rows if v["state"] == "synced" and v["speedup"]]
        return overview if len(reporting) == VALIDATORS else None

    overview = _wait(everyone, 60, f"{VALIDATORS} validators reporting on the dashboard")
    assert overview["members"] == VALIDATORS


def test_locust_load_profile_sends_the_workload(stack, ports):
    """The `load` profile's locust, driven through its web API as a user would."""
    ui = f"http://127.0.0.1:{ports[1]}"
    started = httpx.post(f"{ui}/swarm", data={"user_count": 3, "spawn_rate": 3}, timeout=120)
    assert started.json()["success"], started.text
    try:

        def included() -> dict[tuple[str, str], Any] | None:
            rows = httpx.get(f"{ui}/stats/requests", timeout=10).json()["stats"]
            by_kind = {(r["method"], r["name"]): r for r in rows}
            inclusion = by_kind.get(("inclusion", "erc20"))
            return by_kind if inclusion and inclusion["num_requests"] >= 20 else None

        rows = _wait(included, 180, "20 workload transactions in blocks")
    finally:
        httpx.post(f"{ui}/stop", timeout=60)
        _wait(
            lambda: httpx.get(f"{ui}/stats/requests", timeout=10).json()["state"] == "stopped",
            120,
            "locust to stop",
        )
    assert rows[("inclusion", "erc20")]["num_failures"] == 0
    assert rows[("POST", "eth_sendRawTransaction")]["num_failures"] == 0


def test_pavm_loadtest_from_the_host(stack, tmp_path):
    result = subprocess.run(
        [
            str(ROOT / ".venv/bin/pavm"),
            *("loadtest", "--target", stack, "--users", "2", "--spawn-rate", "2"),
            # The run's first seconds go to deploying and filling the table (blocks
            # every few seconds on 25 loaded validators): leave time to send after.
            *("--run-time", "30s", "--workload", "kvstore-write", "--out", str(tmp_path)),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] > 0 and summary["mined"] == summary["sent"], summary
    assert summary["reverted"] == 0 and summary["verdicts_reject"] == 0, summary


def _flowing(sender: Sender, count: int) -> threading.Thread:
    thread = threading.Thread(target=sender.send, args=(count, 0.03))
    thread.start()
    return thread


def test_killed_validator_catches_up(stack):
    sender = Sender(stack)
    victim = next(iter(_validators().values()))
    flow = _flowing(sender, 150)
    time.sleep(1)
    victim.kill()
    flow.join()
    victim.start()
    _wait(lambda: _all_mined(stack, sender.acknowledged), 180, "transactions mined")
    _wait(lambda: _every_block_agreed(stack), 300, "agreement after the restart")


def test_disconnected_validator_catches_up(stack):
    client = docker.from_env()
    network = client.networks.get("pavmci_default")
    sender = Sender(stack)
    victim = list(_validators().values())[1]
    victim.reload()
    aliases = victim.attrs["NetworkSettings"]["Networks"]["pavmci_default"]["Aliases"]
    network.disconnect(victim)
    try:
        sender.send(120, 0.01)
        _wait(lambda: _all_mined(stack, sender.acknowledged), 180, "blocks while cut off")
        head = int(call(stack, "eth_blockNumber"), 16)
        assert head >= 2
    finally:
        network.connect(victim, aliases=[a for a in aliases or [] if a != victim.id[:12]])
    _wait(lambda: _every_block_agreed(stack), 300, "agreement after reconnecting")


def test_redis_restart_loses_no_block(stack):
    sender = Sender(stack)
    redis = next(n.container for n in compose.nodes("pavmci") if n.service == "redis")
    flow = _flowing(sender, 150)
    time.sleep(1)
    redis.restart(timeout=2)
    flow.join()
    _wait(lambda: _all_mined(stack, sender.acknowledged), 180, "transactions mined")
    _wait(lambda: _every_block_agreed(stack), 300, "agreement after the Redis restart")


def test_killed_miner_mines_what_it_acknowledged(stack):
    sender = Sender(stack)
    miner = next(n.container for n in compose.nodes("pavmci") if n.service == "miner")
    hashes = sender.send(40)
    miner.kill()
    miner.start()
    _wait(lambda: httpx.get(stack + "/health", timeout=2).status_code == 200, 120, "the miner")
    _wait(lambda: _all_mined(stack, hashes), 180, "acknowledged transactions mined")
    _wait(lambda: _every_block_agreed(stack), 300, "agreement after the miner restart")
