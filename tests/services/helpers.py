"""Helpers for the service tests: free ports, a process-mode testnet, polling."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from web3 import AsyncWeb3, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from common.rpc.client import call
from loadtest.testnet import process as testnet
from loadtest.testnet.settings import TestnetSettings

T = TypeVar("T")


def start_testnet(tmp: Path, **options: Any) -> testnet.Testnet:
    """A process-mode testnet of :class:`TestnetSettings` ``options``, on free ports."""
    options.setdefault("base_port", testnet.free_base_port())
    return testnet.up(tmp, TestnetSettings(**options), progress=lambda line: None)


def web3_for(url: str) -> Web3:
    """web3.py on a node, set up as for any Clique-sealed (proof-of-authority) chain:
    its extraData holds the seal, so it is longer than web3.py's default 32 bytes."""
    w3 = Web3(Web3.HTTPProvider(url))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def poa(w3: AsyncWeb3[Any]) -> AsyncWeb3[Any]:
    """An async web3.py set up as :func:`web3_for`."""
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; a check that raises (a node
    restarting, a page redrawn) is tried again, and its exception is what a timeout
    reports."""
    deadline = time.monotonic() + timeout
    last: T | Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - nodes may be restarting
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def metric(url: str, name: str, label: str) -> float:
    """The value of Prometheus sample ``name{...label...}`` on a node, 0 when absent."""
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def verdict_table(miner_url: str, head: int) -> dict[int, dict[str, bool]]:
    """block number -> {validator: agree} for blocks 1..head."""
    return {
        number: {
            v["validator"]: v["agree"] for v in call(miner_url, "pavm_getVerdicts", [hex(number)])
        }
        for number in range(1, head + 1)
    }


def all_agree(net: testnet.Testnet) -> int | None:
    """The miner's head when every validator agreed on every block up to it, else None."""
    head = int(call(net.miner.url, "eth_blockNumber"), 16)
    names = {v.name for v in net.validators}
    table = verdict_table(net.miner.url, head)
    ok = all(set(row) == names and all(row.values()) for row in table.values())
    return head if ok and head > 0 else None
