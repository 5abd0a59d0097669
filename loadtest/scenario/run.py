"""``pavm scenario run``: one scenario file played on the compose testnet.

    up ─▶ links ─▶ load + timeline ─▶ settle ─▶ collect ─▶ report

- **up**: ``scripts/testnet-up`` with the file's network and ``compose/scenario.yml``
  (NET_ADMIN for link shaping). Compose keeps the containers of a running testnet of
  the same project whose settings match, and changes only what differs.
- **links**: every node's link shaped in its container (``links.py``), the CPU
  limit set, then every validator at the miner's head before anything is measured.
- **load + timeline**: locust headless from the host, on the workload locustfile;
  each fault played at its second; links re-applied to any container that came
  back (a restart gives it a clean network namespace).
- **settle**: whatever the timeline left broken is mended (killed or paused nodes
  started, a partition healed, Redis started) and the validators get up to
  :data:`SETTLE_S` seconds to reach the head.
- **collect**: blocks, transactions, block times and verdicts over JSON-RPC;
  ``results.py`` turns them into numbers, ``report.py`` into the report.
"""

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import httpx

from common.errors import PavmError
from common.rpc.client import RpcClient, call
from loadtest.locust.headless import LocustLoad, locust_command
from loadtest.scenario.cluster import Cluster
from loadtest.scenario.links import Shape, shapes
from loadtest.scenario.observe import Observer
from loadtest.scenario.report import write_report
from loadtest.scenario.results import Collected, results
from loadtest.scenario.spec import Fault, Scenario, ScenarioError, describe
from loadtest.testnet import process as testnet
from loadtest.testnet.compose import REPOSITORY, environment
from loadtest.testnet.probe import head, head_or_none

SETTLE_S = 120.0
"""Longest wait for every validator to reach the head, before and after the load."""
UP_TIMEOUT_S = 1800
LOCUST_GRACE_S = 120.0
"""Beyond the load's duration: locust's setup and its wait for the last inclusions."""
RANGE = 256
RECONCILE_S = 2.0
RPC_TIMEOUT = 10.0
"""Seconds the runner waits for a node's answer to one JSON-RPC call."""


@dataclass(frozen=True)
class RunOptions:
    out: Path
    project: str = "pavmscenario"
    down: bool = False
    """Take the testnet down (and its volumes) afterwards."""


class Runner:
    def __init__(
        self, plan: Scenario, file: Path, options: RunOptions, say: Callable[[str], None]
    ) -> None:
        self.plan = plan
        self.file = file
        self.options = options
        self.say = say
        self.cluster = Cluster(options.project)
        self.phase = "up"
        self.overrides: dict[str, Shape] = {}
        self.cut: set[str] = set()
        self.proxied = self._proxied()
        self.history: dict[str, list[tuple[float, Shape]]] = {}
        self.events: list[dict[str, Any]] = []
        self.origin = time.time()
        self.observer: Observer | None = None
        self.latency_by = ""
        self._reconciled = 0.0

    # -- phases ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        out = self.options.out
        out.mkdir(parents=True, exist_ok=True)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self.up()
        try:
            self.phase = "links"
            self.shape()
            miner = self.miner_url()
            start_head = head(miner, RPC_TIMEOUT)
            self.origin = time.time()
            self.observer = Observer(
                self.miner_url_if_up,
                self.validator_urls,
                self.origin,
                self.say,
                lambda: self.phase,
            )
            self.observer.start()
            self.wait_at_head("before the load")
            self.phase = "load"
            self.origin = time.time()
            self.observer.origin = self.origin
            code = self.load_and_timeline(out)
            self.phase = "settle"
            self.settle()
            self.phase = "collect"
            self.observer.stop()
            data = self.collect(out, start_head)
        except BaseException:
            self.mend(quiet=True)
            raise
        finally:
            if self.observer is not None:
                self.observer.stop()
            if self.options.down:
                self.down()
        summary = {
            "scenario": {
                "name": self.plan.name,
                "description": self.plan.description,
                "file": str(self.file),
                "project": self.options.project,
                "started": started,
                "plan": describe(self.plan)[1:],
                "locust_exit_code": code,
                "latency_by": self.latency_by,
            },
            **results(data),
        }
        report = write_report(out, summary)
        self.say(f"[scenario] report: {report}")
        return summary

    def up(self) -> None:
        net = self.plan.network
        self.cluster.refresh()
        miner = self.cluster.members.get("miner")
        port = _port(miner.url) if miner is not None and miner.url else None
        placed = net.model_copy(update={"base_port": port or testnet.free_base_port(span=1)})
        env = {
            **environment(placed, self.options.project),
            "COMPOSE_FILE": "docker-compose.yml:compose/scenario.yml",
        }
        log = self.options.out / "testnet-up.log"
        self.say(
            f"[scenario] up: {net.validators} validators, project {self.options.project} "
            f"({'reusing what runs' if miner else 'starting'}; log {log})"
        )
        with log.open("w") as handle:
            done = subprocess.run(
                [str(REPOSITORY / "scripts/testnet-up")],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=UP_TIMEOUT_S,
                check=False,
            )
        if done.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-15:])
            raise ScenarioError(f"the testnet did not come up (see {log}):\n{tail}")
        self.cluster.refresh()
        found = sorted(n for n in self.cluster.members if n.startswith("validator-"))
        if len(found) != net.validators:
            raise ScenarioError(f"wanted {net.validators} validators, the testnet has {len(found)}")

    def down(self) -> None:
        env = {**os.environ, "COMPOSE_PROJECT_NAME": self.options.project}
        env["COMPOSE_FILE"] = "docker-compose.yml:compose/scenario.yml"
        subprocess.run(
            [str(REPOSITORY / "scripts/testnet-down"), "-v", "--remove-orphans"],
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )

    def shape(self) -> None:
        for name in self.plan.nodes("validators"):
            self.cluster.limit_cpus(name, self.plan.network.cores)
        now = shapes(self.plan, self.overrides)
        for name in self.plan.nodes("validators"):
            self.history[name] = [(-math.inf, now[name])]
        touched = self.reshape()
        for link in self.plan.links:
            nodes = ", ".join(self.plan.nodes(link.nodes))
            self.say(f"[scenario] links: {nodes}: {link.describe()}")
        self.latency_by = "netem" if self.cluster.has_netem() else "delay proxy"
        self.say(
            f"[scenario] links shaped on {len(touched)} nodes (latency by the {self.latency_by})"
        )

    def reshape(self) -> list[str]:
        """Give every node the link it has now (its ``links`` entry or ``slow-link``
        override) and the partition's cut; the nodes shaped anew."""
        return self.cluster.apply(shapes(self.plan, self.overrides), self.cut, self.proxied)

    def load_and_timeline(self, out: Path) -> int:
        load = self.plan.load
        users, wait = _intensity(load.users, load.rate)
        plan = LocustLoad(
            users,
            max(1.0, users / 5),
            f"{load.duration_s:g}s",
            load.workload,
            load.conflict_rate,
            tx_wait=wait,
        )
        command = locust_command(self.miner_url(), plan, out)
        (out / "sent.json").unlink(missing_ok=True)
        self.say(
            f"[scenario] load: {load.workload}, {users} users, {wait:g} s apart, "
            f"{load.duration_s:g} s (locust log {out / 'locust.log'})"
        )
        with (out / "locust.log").open("w") as log:
            locust = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                for fault in self.plan.timeline:
                    while time.time() - self.origin < fault.at and locust.poll() is None:
                        self._tick()
                        time.sleep(0.2)
                    if locust.poll() is not None:
                        break  # the load ended early: its exit code is in the report
                    self.play(fault)
                deadline = self.origin + load.duration_s + LOCUST_GRACE_S
                while locust.poll() is None and time.time() < deadline:
                    self._tick()
                    time.sleep(0.5)
            finally:
                if locust.poll() is None:
                    locust.terminate()
                    try:
                        locust.wait(30)
                    except subprocess.TimeoutExpired:
                        locust.kill()
                        locust.wait()
        if not (out / "sent.json").exists():
            raise ScenarioError(f"locust stopped before the run ended (see {out / 'locust.log'})")
        return locust.returncode

    def _tick(self) -> None:
        """Shape any container that came back since the last look (every
        :data:`RECONCILE_S` seconds: each look reads every container)."""
        if time.monotonic() - self._reconciled >= RECONCILE_S:
            self._reconciled = time.monotonic()
            self.reshape()

    def play(self, fault: Fault) -> None:
        t = time.time() - self.origin
        nodes = self.plan.nodes(fault.nodes) if fault.nodes is not None else []
        self.say(f"[scenario] {t:6.1f} s  {fault.action} {', '.join(nodes)}".rstrip())
        action = fault.action
        for name in nodes if action in ("kill", "restart", "pause", "unpause") else []:
            getattr(self.cluster, action)(name)
        if action == "partition":
            self.cut = set(nodes)
        elif action == "heal":
            self.cut = set()
        elif action == "stop-redis":
            self.cluster.stop("redis")
        elif action == "start-redis":
            self.cluster.start("redis")
        elif action == "slow-link" and fault.link is not None:
            for name in nodes:
                self.overrides[name] = fault.link.behaviour()
                self.history.setdefault(name, []).append((t, self.overrides[name]))
        self.events.append({"at": fault.at, "t": t, "action": action, "nodes": nodes})
        self.reshape()

    def settle(self) -> None:
        """Mend what the timeline left broken; wait until every validator is at the head."""
        self.mend()
        self.reshape()
        self.wait_at_head("after the load")

    def mend(self, quiet: bool = False) -> None:
        """Heal the partition, start every stopped or killed node, unpause the paused:
        also after a failed run (``quiet``: best effort), so that a testnet reused next
        starts whole."""
        self.cut = set()
        try:
            self.cluster.refresh()
            for name, member in self.cluster.members.items():
                member.container.reload()
                if member.container.status == "paused":
                    self.cluster.unpause(name)
                elif member.container.status != "running":
                    self.say(f"[scenario] settle: starting {name} again")
                    self.cluster.start(name)
            if quiet:
                self.reshape()
        except (docker.errors.DockerException, ScenarioError) as exc:
            if not quiet:
                raise
            self.say(f"[scenario] could not mend the testnet: {exc}")

    def wait_at_head(self, when: str) -> None:
        assert self.observer is not None
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            self._tick()
            sample = self.observer.sample()
            if sample.miner is not None and sample.at_head() == len(sample.validators):
                return
            time.sleep(0.5)
        self.say(f"[scenario] not every validator reached the head {when} in {SETTLE_S:g} s")

    def collect(self, out: Path, start_head: int) -> Collected:
        assert self.observer is not None
        record = json.loads((out / "sent.json").read_text())
        miner = self.miner_url()
        end = head(miner, RPC_TIMEOUT)
        self.say(f"[scenario] collect: blocks {start_head + 1}..{end}")
        names = self.plan.nodes("validators")
        hostnames = {self.cluster.get(n).hostname: n for n in names}
        transactions: dict[int, list[str]] = {}
        verdicts: dict[int, dict[str, bool]] = {}
        with RpcClient(miner, timeout=30) as node:
            for number in range(start_head + 1, end + 1):
                block = node.call("eth_getBlockByNumber", [hex(number), False])
                transactions[number] = list(block["transactions"])
                verdicts[number] = {
                    hostnames[v["validator"]]: bool(v["agree"])
                    for v in node.call("pavm_getVerdicts", [hex(number)])
                    if v["validator"] in hostnames
                }
        sealed = {int(t["number"], 16): t["at"] for t in _times(miner, start_head + 1, end)}
        arrivals = {}
        for name in names:
            url = self.cluster.get(name).url
            arrivals[name] = _times(url, start_head + 1, end) if url else []
        height, roots = self._roots(names)
        return Collected(
            plan=self.plan,
            origin=self.origin,
            events=self.events,
            # Samples taken before the load started are not the load's.
            samples=[
                replace(s, t=s.epoch - self.origin)
                for s in self.observer.samples
                if s.epoch >= self.origin
            ],
            sealed=sealed,
            transactions=transactions,
            sent=record["sent"],
            sent_at=record.get("sent_at") or [],
            arrivals=arrivals,
            verdicts=verdicts,
            history=self.history,
            roots=roots,
            height=height,
        )

    def _roots(self, names: list[str]) -> tuple[int | None, dict[str, Any]]:
        """Every node's head, and its state root at the lowest of those heads (each
        validator accepted the block there only after computing that root itself)."""
        urls = {"miner": self.miner_url(), **{n: self.cluster.get(n).url for n in names}}
        heads = {name: head_or_none(url, RPC_TIMEOUT) for name, url in urls.items()}
        known = [h for h in heads.values() if h is not None]
        height = min(known) if known else None
        roots: dict[str, tuple[int | None, str | None]] = {}
        for name, url in urls.items():
            root = None
            if url and height is not None:
                try:
                    root = call(url, "eth_getBlockByNumber", [hex(height), False])["stateRoot"]
                except (httpx.HTTPError, PavmError, TypeError, KeyError):
                    root = None
            roots[name] = (heads[name], root)
        return height, roots

    # -- where the nodes are ---------------------------------------------------------------

    def miner_url_if_up(self) -> str | None:
        member = self.cluster.members.get("miner")
        return member.url if member is not None else None

    def miner_url(self) -> str:
        url = self.cluster.get("miner").url
        if url is None:
            raise ScenarioError("the miner publishes no JSON-RPC port")
        return url

    def validator_urls(self) -> dict[str, str | None]:
        members = self.cluster.members
        return {n: members[n].url if n in members else None for n in self.plan.nodes("validators")}

    def _proxied(self) -> set[str]:
        """Nodes with latency at any time: their delay proxy runs from the start."""
        out = {n for n, s in shapes(self.plan, {}).items() if s.latency_ms}
        for fault in self.plan.timeline:
            if fault.link is not None and fault.link.latency_ms and fault.nodes is not None:
                out |= set(self.plan.nodes(fault.nodes))
        return out


def run_scenario(
    plan: Scenario, file: Path, options: RunOptions, say: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Play ``plan`` and write its report into ``options.out``; the summary written."""
    return Runner(plan, file, options, say or _say).run()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _intensity(users: int | None, rate: float | None) -> tuple[int, float]:
    """Locust users and each one's pause between sends: ``users`` at the locustfile's
    own pace, or enough users, each pausing long enough, to aim at ``rate`` tx/s."""
    if rate is None:
        return users or 1, 0.05
    count = max(1, min(50, math.ceil(rate / 20)))
    return count, count / rate


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _times(url: str, start: int, end: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for first in range(start, end + 1, RANGE):
        last = min(end, first + RANGE - 1)
        try:
            out += call(url, "pavm_getBlockTimes", [hex(first), hex(last)], timeout=10)
        except (httpx.HTTPError, PavmError):
            continue
    return out
