"""What the status views, benchmarks and scenarios ask a running node: its head, its
/health, and the miner's verdict tally."""

import httpx

from common.errors import PavmError
from common.rpc.client import RpcClient, call


def head(url: str, timeout: float = 5.0) -> int:
    """The number of the node's newest block, over JSON-RPC."""
    return int(call(url, "eth_blockNumber", timeout=timeout), 16)


def head_or_none(url: str | None, timeout: float = 5.0) -> int | None:
    """:func:`head`, or ``None`` when the node has no URL (publishes no port) or does
    not answer: for watchers, to whom a node that is down is news, not an error."""
    if url is None:
        return None
    try:
        return head(url, timeout)
    except (httpx.HTTPError, PavmError, ValueError, TypeError):
        return None


def recent_verdicts(
    miner_url: str, blocks: int = 20
) -> tuple[int | None, dict[str, tuple[int, int]]]:
    """(miner head, validator -> (agree, reject) over the last ``blocks`` blocks);
    (None, {}) while the miner does not answer."""
    counts: dict[str, tuple[int, int]] = {}
    try:
        with RpcClient(miner_url, timeout=5) as miner:
            head = int(miner.call("eth_blockNumber"), 16)
            verdicts = miner.batch(
                [("pavm_getVerdicts", [hex(n)]) for n in range(max(1, head - blocks + 1), head + 1)]
            )
        for block_verdicts in verdicts:
            for verdict in block_verdicts:
                agree, reject = counts.get(verdict["validator"], (0, 0))
                counts[verdict["validator"]] = (
                    (agree + 1, reject) if verdict["agree"] else (agree, reject + 1)
                )
    except (httpx.HTTPError, PavmError, ValueError, KeyError):
        return None, {}
    return head, counts


def probe_health(url: str) -> tuple[int | None, bool]:
    """(head, healthy) from a node's /health; (None, False) when it does not answer."""
    try:
        health = httpx.get(url + "/health", timeout=2)
        return health.json().get("head"), health.status_code == 200
    except (httpx.HTTPError, ValueError):
        return None, False
