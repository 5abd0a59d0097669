"""The compose testnet as a context manager for benchmarks: up under its own project
and port, sampled through the Docker API, removed afterwards whatever happens."""

import subprocess
from typing import Any

import docker

from loadtest.testnet import compose
from loadtest.testnet import process as testnet
from loadtest.testnet.settings import TestnetSettings

PROJECT = "pavmbench"


class ComposeStack:
    def __init__(self, settings: TestnetSettings) -> None:
        """The testnet ``settings`` describes, its JSON-RPC on a free port whatever
        ``settings.base_port`` says (a benchmark must not meet a running testnet)."""
        self.port = testnet.free_base_port(span=1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = compose.environment(
            settings.model_copy(update={"base_port": self.port}), PROJECT
        )
        self.client = docker.from_env()

    def __enter__(self) -> "ComposeStack":
        try:
            subprocess.run(
                [str(compose.REPOSITORY / "scripts/testnet-up")],
                env=self.env,
                check=True,
                timeout=1800,
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.run(
            [str(compose.REPOSITORY / "scripts/testnet-down"), "-v", "--remove-orphans"],
            env=self.env,
            check=False,
            capture_output=True,
            timeout=600,
        )

    def validator_names(self) -> list[str]:
        return [
            n.container.attrs["Config"]["Hostname"]
            for n in compose.nodes(PROJECT)
            if n.service == "validator"
        ]

    def sample(self, before: dict[str, Any] | None = None) -> dict[str, Any]:
        """CPU seconds used so far per container; with ``before``, the difference and the
        memory in use now (MB)."""
        out: dict[str, Any] = {}
        for node in compose.nodes(PROJECT):
            stats = node.container.stats(stream=False)
            cpu = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
            if before is None:
                out[node.name] = cpu
            else:
                memory = stats["memory_stats"].get("usage", 0) / 1e6
                out[node.name] = {
                    "cpu_s": round(cpu - before.get(node.name, 0.0), 2),
                    "memory_mb": round(memory, 1),
                }
        return out
