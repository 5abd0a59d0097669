"""The process-mode testnet: a miner, N validators and (when asked) Redis on 127.0.0.1.

``pavm testnet up`` starts them as local processes, each with its own data folder
and log under ``--data-dir``, and records what it started in ``testnet.json`` there,
which ``pavm testnet status`` and ``pavm testnet down`` read. Ports: the miner on
``base_port``, validator i on ``base_port + 1 + i``, Redis on ``base_port + 1000``.
The miner makes its own key at its first start (``miner/miner.key``, mode 0600) and
writes its address to ``miner.address``, from which the validators read it; it also
makes the join token ``join.token``, which validators prove when they register.
"""

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common.errors import PavmError
from common.net.keyfile import read_redis_password
from loadtest.testnet.probe import probe_health, recent_verdicts
from loadtest.testnet.redis_server import server_command, write_config
from loadtest.testnet.settings import TestnetSettings

STATE_FILE = "testnet.json"
MINER_ADDRESS_FILE = "miner.address"
"""Where the miner writes its address for the validators (its key stays in miner/)."""
JOIN_TOKEN_FILE = "join.token"
"""The network's membership secret (mode 0600): the miner makes it, validators prove it."""
REDIS_PASSWORD_FILE = "redis.password"
"""The password of the Redis the launcher starts (mode 0600), which every node reads."""
REDIS_CONFIG_FILE = "redis.conf"
"""That Redis's configuration (mode 0600: it holds the password, kept off ``ps``)."""


@dataclass
class NodeProcess:
    name: str
    role: str
    url: str
    pid: int
    log: str
    command: list[str] = field(default_factory=list)
    """How it was started, so :func:`restart` can start it again the same way."""


@dataclass
class Testnet:
    data_dir: str
    transport: str
    nodes: list[NodeProcess] = field(default_factory=list)
    redis_url: str | None = None
    redis_password_file: str | None = None

    def redis_password(self) -> str | None:
        """The Redis password the nodes use, for a client of the same Redis."""
        if self.redis_password_file is None:
            return None
        return read_redis_password(Path(self.redis_password_file))

    def save(self) -> None:
        Path(self.data_dir, STATE_FILE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, data_dir: Path) -> "Testnet":
        path = data_dir / STATE_FILE
        if not path.exists():
            raise PavmError(f"no testnet recorded in {data_dir} (start one with pavm testnet up)")
        data = json.loads(path.read_text())
        data["nodes"] = [NodeProcess(**n) for n in data["nodes"]]
        return cls(**data)

    @property
    def miner(self) -> NodeProcess:
        return next(n for n in self.nodes if n.role == "miner")

    @property
    def validators(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.role == "validator"]


def free_base_port(span: int = 64) -> int:
    """A port p with p..p+span and p+1000 free on 127.0.0.1 (checked, then released).

    Chosen below the kernel's ephemeral range, where no outgoing connection takes a
    port by itself: a node restarted on its port (after a kill) must find it free,
    which a port among the ephemeral ones is not once any process connects from it."""
    low = _ephemeral_low()
    for _ in range(200):
        base = random.randrange(10_000, max(10_001, low - 1000 - span))
        taken = []
        try:
            for port in [*range(base, base + span), base + 1000]:
                sock = socket.socket()
                taken.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in taken:
                sock.close()
        return base
    raise PavmError("no free range of ports on 127.0.0.1")


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; reaps it first when it is our exited child (a zombie)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def restart(net: Testnet, name: str, extra: list[str] | None = None) -> NodeProcess:
    """Start node ``name`` again with its recorded command (plus ``extra`` options)."""
    node = next(n for n in net.nodes if n.name == name)
    deadline = time.monotonic() + 10
    while _alive(node.pid):  # a kill may still be under way
        if time.monotonic() > deadline:
            raise PavmError(f"{name} is still running (pid {node.pid})")
        time.sleep(0.05)
    node.pid = _spawn([*node.command, *(extra or [])], Path(net.data_dir) / node.log)
    net.save()
    return node


def _spawn(command: list[str], log_path: Path) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process.pid


def wait_healthy(url: str, pid: int, timeout: float = 60.0) -> None:
    """Wait until ``url``/health answers 200; fail early when the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise PavmError(f"{url}: process {pid} exited during start-up (see its log)")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise PavmError(f"{url} did not become healthy within {timeout:.0f}s")


def _start(net: Testnet, name: str, role: str, url: str, command: list[str]) -> NodeProcess:
    log = f"logs/{name}.log"
    node = NodeProcess(name, role, url, _spawn(command, Path(net.data_dir) / log), log, command)
    net.nodes.append(node)
    net.save()
    return node


def up(
    data_dir: Path, settings: TestnetSettings, progress: Callable[[str], None] = print
) -> Testnet:
    """Start the testnet ``settings`` describes; on any failure, stop what was started
    and raise. With ``settings.redis_url`` the nodes use that Redis (with the password
    in ``settings.redis_password_file``, if given); otherwise a Redis transport starts
    ``redis-server`` with a password of its own. ``progress`` hears of each node as it
    becomes healthy."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if (data_dir / STATE_FILE).exists():
        previous = Testnet.load(data_dir)
        if any(_alive(n.pid) for n in previous.nodes):
            raise PavmError(f"a testnet is already running from {data_dir} (pavm testnet down)")
    transport, base_port = settings.transport, settings.base_port
    redis_url, redis_password_file = settings.redis_url, settings.redis_password_file
    net = Testnet(str(data_dir), transport)
    python = sys.executable
    shared = ["--genesis", str(settings.genesis.resolve())] if settings.genesis else []
    if settings.gas_schedule is not None:
        shared += ["--gas-schedule", str(settings.gas_schedule.resolve())]
    try:
        if transport in ("redis", "both") and redis_url is None:
            port = base_port + 1000
            redis_url = f"redis://127.0.0.1:{port}"
            redis_password_file = data_dir / REDIS_PASSWORD_FILE
            config = write_config(
                data_dir / REDIS_CONFIG_FILE, redis_password_file, port, "127.0.0.1"
            )
            redis = _start(net, "redis", "redis", redis_url, server_command(config))
            _wait_port(port, redis.pid)
        net.redis_url = redis_url
        if redis_url:
            shared += ["--redis-url", redis_url]
        if redis_password_file is not None:
            net.redis_password_file = str(redis_password_file)
            shared += ["--redis-password-file", str(redis_password_file)]
        miner = _start(
            net,
            "miner",
            "miner",
            f"http://127.0.0.1:{base_port}",
            [
                python,
                "-m",
                "miner",
                "--data-dir",
                str(data_dir / "miner"),
                "--port",
                str(base_port),
                "--block-txs",
                str(settings.block_txs),
                "--block-interval",
                str(settings.block_interval),
                "--transport",
                transport,
                "--address-file",
                str(data_dir / MINER_ADDRESS_FILE),
                "--join-token-file",
                str(data_dir / JOIN_TOKEN_FILE),
                "--dev" if settings.dev else "--no-dev",
                *shared,
            ],
        )
        wait_healthy(miner.url, miner.pid)
        progress(f"miner      {miner.url}")
        for i in range(settings.validators):
            name = f"validator-{i + 1}"
            port = base_port + 1 + i
            url = f"http://127.0.0.1:{port}"
            _start(
                net,
                name,
                "validator",
                url,
                [
                    python,
                    "-m",
                    "validator",
                    "--name",
                    name,
                    "--data-dir",
                    str(data_dir / name),
                    "--port",
                    str(port),
                    "--miner-url",
                    miner.url,
                    "--miner-address-file",
                    str(data_dir / MINER_ADDRESS_FILE),
                    "--join-token-file",
                    str(data_dir / JOIN_TOKEN_FILE),
                    "--workers",
                    str(settings.workers),
                    "--strategy",
                    settings.strategy_of(i),
                    "--transport",
                    transport,
                    "--public-url",
                    url,
                    *shared,
                    *settings.validator_args,
                ],
            )
        for node in net.validators:
            wait_healthy(node.url, node.pid)
            progress(f"{node.name:<10} {node.url}")
    except BaseException:
        down(net)
        raise
    return net


def _wait_port(port: int, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise PavmError("redis-server exited during start-up (see logs/redis.log)")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise PavmError(f"redis-server did not listen on {port} within {timeout:.0f}s")


def down(net: Testnet, timeout: float = 10.0) -> list[str]:
    """Stop every process of ``net`` (validators first, Redis last); names stopped."""
    order = sorted(net.nodes, key=lambda n: {"validator": 0, "miner": 1, "redis": 2}[n.role])
    stopped = []
    for node in order:
        if _alive(node.pid):
            try:
                os.killpg(node.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout
            while _alive(node.pid) and time.monotonic() < deadline:
                _reap(node.pid)
                time.sleep(0.05)
            if _alive(node.pid):
                os.killpg(node.pid, signal.SIGKILL)
            _reap(node.pid)
            stopped.append(node.name)
    return stopped


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status(net: Testnet, blocks: int = 20) -> list[dict[str, Any]]:
    """A row per node: head, health, and verdict counts over the last ``blocks`` blocks."""
    rows: list[dict[str, Any]] = []
    miner_head, verdicts = recent_verdicts(net.miner.url, blocks)
    for node in net.nodes:
        row: dict[str, Any] = {
            "name": node.name,
            "role": node.role,
            "url": node.url,
            "pid": node.pid,
            "alive": _alive(node.pid),
        }
        if node.role == "redis":
            rows.append(row)
            continue
        row["head"], row["healthy"] = probe_health(node.url)
        if node.role == "validator":
            row["agree"], row["reject"] = verdicts.get(node.name, (0, 0))
        else:
            row["head"] = miner_head if miner_head is not None else row["head"]
        rows.append(row)
    return rows
