"""The compose testnet's containers under their scenario names (``miner``, ``redis``,
``validator-N``), and what a scenario does to them through the Docker API: shape
their links, kill, restart, pause, cut off, limit their CPUs.

Link shaping runs inside each container as root (``docker exec -u 0``), with the
NET_ADMIN capability that ``compose/scenario.yml`` gives scenario testnets only. A
container that restarts comes back with a new network namespace, clean, and perhaps
a new address: the cluster notices (its start time changes) and
:meth:`Cluster.apply` shapes it again.
"""

from dataclasses import dataclass, field
from typing import Any

import docker

from loadtest.scenario.links import (
    NETEM_PROBE,
    Peer,
    Shape,
    node_script,
    proxy_command,
    wait_ready_script,
)
from loadtest.scenario.spec import ScenarioError

EXEC_TIMEOUT = 30


@dataclass
class Member:
    name: str
    """Its scenario name."""
    container: Any
    hostname: str
    """The name a validator signs its verdicts with."""
    ip: str | None
    url: str | None
    """Host URL of its JSON-RPC port, when published."""
    started: str


@dataclass
class Cluster:
    project: str
    client: Any = field(default_factory=docker.from_env)
    members: dict[str, Member] = field(default_factory=dict)
    gateway: str = ""
    _applied: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    netem: bool | None = None
    """Whether the kernel has the netem qdisc (asked once, in a node's container)."""
    _proxied: dict[str, str] = field(default_factory=dict)
    """Nodes whose delay proxy runs, with the start time of the container it runs in."""

    def refresh(self) -> None:
        """Read every container of the project again (addresses and ports change when
        a container restarts)."""
        label = f"com.docker.compose.project={self.project}"
        found: dict[str, Member] = {}
        for container in self.client.containers.list(all=True, filters={"label": label}):
            service = container.labels.get("com.docker.compose.service", "")
            number = container.labels.get("com.docker.compose.container-number", "1")
            if service not in ("miner", "redis", "validator"):
                continue
            name = f"validator-{number}" if service == "validator" else service
            settings = container.attrs["NetworkSettings"]
            networks = settings.get("Networks") or {}
            network = next(iter(networks.values()), None) or {}
            if network.get("Gateway"):
                self.gateway = network["Gateway"]
            port = {"miner": "8545/tcp", "validator": "8546/tcp"}.get(service)
            bindings = (settings.get("Ports") or {}).get(port) if port else None
            found[name] = Member(
                name,
                container,
                container.attrs["Config"].get("Hostname", name),
                network.get("IPAddress") or None,
                f"http://127.0.0.1:{bindings[0]['HostPort']}" if bindings else None,
                container.attrs["State"].get("StartedAt", ""),
            )
        self.members = found

    def get(self, name: str) -> Member:
        if name not in self.members:
            raise ScenarioError(f"the testnet has no node {name} (project {self.project})")
        return self.members[name]

    def running(self, name: str) -> bool:
        state = self.get(name).container.attrs["State"]
        return bool(state.get("Running")) and not state.get("Paused")

    # -- links -----------------------------------------------------------------------------

    def apply(self, shapes: dict[str, Shape], cut: set[str], proxied: set[str]) -> list[str]:
        """Give every running node its shape and partition; only nodes whose shape,
        peers' addresses or container changed are touched. ``proxied``: the nodes that
        have latency at any time of the scenario (their delay proxy runs throughout,
        so a later ``slow-link`` changes its delay without cutting connections).
        The nodes shaped anew."""
        self.refresh()
        netem = self.has_netem()
        if netem:
            proxied = set()
        touched = []
        for name, member in self.members.items():
            if not self.running(name) or member.ip is None:
                continue
            peers = [
                Peer(other.ip, shapes.get(peer, Shape()), (name in cut) != (peer in cut))
                for peer, other in sorted(self.members.items())
                if peer != name and other.ip is not None
            ]
            shape = shapes.get(name, Shape())
            proxy = name in proxied
            fresh = proxy and self._proxied.get(name) != member.started
            if fresh:
                self._start_proxy(member)
            key = (shape, tuple(peers), self.gateway, member.started, proxy)
            previous = self._applied.get(name)
            if previous == key:
                continue
            # The first shaping of a container: close the connections it opened before
            # (past no proxy, or past an earlier scenario's proxy and its delay).
            first = previous is None or previous[3] != member.started
            script = node_script(shape, peers, self.gateway, proxy, reset=first, netem=netem)
            self._exec(member, script)
            self._applied[name] = key
            touched.append(name)
        return touched

    def has_netem(self) -> bool:
        """Whether latency can be the kernel's (netem) rather than the delay proxy's."""
        if self.netem is None:
            running = [m for n, m in sorted(self.members.items()) if self.running(n)]
            if not running:
                return False
            self.netem = self._exec(running[0], NETEM_PROBE).strip() == "netem"
        return self.netem

    def _start_proxy(self, member: Member) -> None:
        member.container.exec_run(proxy_command(), user="0", detach=True)
        self._exec(member, wait_ready_script())
        self._proxied[member.name] = member.started

    def _exec(self, member: Member, script: str) -> str:
        code, output = member.container.exec_run(
            ["timeout", str(EXEC_TIMEOUT), "sh", "-c", script], user="0"
        )
        text = str(output.decode(errors="replace"))
        if code != 0:
            tail = text.strip()[-800:]
            raise ScenarioError(f"shaping {member.name}'s link failed (exit {code}): {tail}")
        return text

    # -- faults ----------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        self.get(name).container.kill()

    def restart(self, name: str) -> None:
        """Start it again (after a kill or stop) or restart it (while it runs)."""
        container = self.get(name).container
        container.reload()
        if container.status == "paused":
            container.unpause()
            container.reload()
        if container.status == "running":
            container.restart(timeout=10)
        else:
            container.start()

    def stop(self, name: str) -> None:
        self.get(name).container.stop(timeout=10)

    def start(self, name: str) -> None:
        self.get(name).container.start()

    def pause(self, name: str) -> None:
        self.get(name).container.pause()

    def unpause(self, name: str) -> None:
        self.get(name).container.unpause()

    def limit_cpus(self, name: str, cores: float | None) -> None:
        """At most ``cores`` CPUs for the node's container (CFS quota); ``None`` lifts
        a limit an earlier scenario set on a testnet reused since."""
        container = self.get(name).container
        period = 100_000
        if cores is not None:
            container.update(cpu_period=period, cpu_quota=int(cores * period))
        elif (container.attrs["HostConfig"].get("CpuQuota") or 0) > 0:
            container.update(cpu_period=period, cpu_quota=-1)
