"""What both status views ask a running node: its /health, and the miner's verdict tally."""

import httpx

from common.errors import PavmError
from common.rpc.client import RpcClient


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
