"""The containerised testnet as seen from the host, through the Docker API.

Containers are found by the labels Compose puts on them (project and service), so
this works the same for ``docker compose`` and ``docker-compose``. Validators
publish their port 8546 on an ephemeral host port, read from the container.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from common.errors import PavmError
from loadtest.testnet.probe import probe_health, recent_verdicts
from loadtest.testnet.settings import TestnetSettings

DEFAULT_PROJECT = "pavm"
REPOSITORY = Path(__file__).resolve().parents[2]
"""The checkout holding docker-compose.yml and scripts/ (compose needs a checkout)."""


@dataclass(frozen=True)
class Node:
    name: str
    service: str
    container: Any
    url: str | None
    """Host URL of its HTTP port, when published."""


def project_name() -> str:
    """COMPOSE_PROJECT_NAME from the environment, else the repository's default."""
    return os.environ.get("COMPOSE_PROJECT_NAME", DEFAULT_PROJECT)


def environment(settings: TestnetSettings, project: str) -> dict[str, str]:
    """The environment under which ``scripts/testnet-up`` brings up the testnet
    ``settings`` describes as compose ``project``, its miner's JSON-RPC published on
    ``settings.base_port`` (docker-compose.yml reads these variables)."""
    if len(set(settings.strategy)) > 1:
        raise PavmError("the compose testnet runs one strategy on every validator")
    return {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        "PAVM_RPC_PORT": str(settings.base_port),
        "VALIDATORS": str(settings.validators),
        "PAVM_WORKERS": str(settings.workers),
        "PAVM_TRANSPORT": settings.transport,
        "PAVM_STRATEGY": settings.strategy[0],
        "BLOCK_TXS": str(settings.block_txs),
        "BLOCK_INTERVAL": f"{settings.block_interval:g}",
    }


def nodes(project: str | None = None, client: Any = None) -> list[Node]:
    """Every container of the project, miner first, then validators by name."""
    client = client or docker.from_env()
    label = f"com.docker.compose.project={project or project_name()}"
    found = []
    for container in client.containers.list(all=True, filters={"label": label}):
        service = container.labels.get("com.docker.compose.service", "?")
        port = {"miner": "8545/tcp", "validator": "8546/tcp"}.get(service)
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(port) if port else None
        url = f"http://127.0.0.1:{bindings[0]['HostPort']}" if bindings else None
        found.append(Node(container.name, service, container, url))
    order = {"redis": 0, "miner": 1, "validator": 2}
    return sorted(found, key=lambda n: (order.get(n.service, 3), _number(n.name)))


def _number(name: str) -> int:
    tail = name.rsplit("_", 1)[-1].rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def status(project: str | None = None, blocks: int = 20) -> list[dict[str, Any]]:
    """A row per container: state, head, health and verdicts over the last blocks."""
    found = nodes(project)
    miner = next((n for n in found if n.service == "miner"), None)
    verdicts: dict[str, tuple[int, int]] = {}
    if miner is not None and miner.url is not None:
        _, verdicts = recent_verdicts(miner.url, blocks)
    rows = []
    for node in found:
        row: dict[str, Any] = {
            "name": node.name,
            "service": node.service,
            "state": node.container.status,
            "url": node.url,
        }
        hostname = node.container.attrs["Config"].get("Hostname", "")
        if node.url:
            row["head"], row["healthy"] = probe_health(node.url)
        if node.service == "validator":
            agree, reject = verdicts.get(hostname, (0, 0))
            row["hostname"], row["agree"], row["reject"] = hostname, agree, reject
        rows.append(row)
    return rows
