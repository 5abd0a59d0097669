"""The dashboard's data: the miner's chain, pool and verdicts, and what its validators
report, put together as JSON the page draws.

Everything here is read from the miner's store and JSON-RPC methods or from the
validators' own ``pavm_*`` methods (``watch.py``); nothing is kept that a node does
not already serve, but for one sample per second of the head and the pool size.
"""

import threading
import time
from collections import OrderedDict, deque
from typing import Any

from common.chain.rwset import block_rwset_encoding
from common.rpc.dispatch import Handler
from common.rpc.errors import RpcError
from miner.dashboard.watch import Seen, ValidatorWatch
from miner.node import MinerNode

BLOCKS = 60
"""Recent blocks the overview shows."""
SAMPLES = 300
"""One-second samples of the head and pool size kept (five minutes)."""
SUMMARIES = 512
"""Block summaries cached (a block never changes once mined)."""
FRESH_FOR = 0.5
"""Seconds one overview serves every stream and request that asks (16 streams cost
no more than one)."""
SHOWN = 1_000
"""Logs, and operations, a transaction's page shows at most: a transaction may have
~80,000 logs, whose JSON no page should be sent whole (invariant 9,
docs/architecture.md); the page says how many more there are."""


class Dashboard:
    """Samples the miner each second and watches its validators while the app runs."""

    def __init__(self, node: MinerNode, methods: dict[str, Handler]) -> None:
        self.node = node
        self.methods = methods
        self.watch = ValidatorWatch(self._member_urls, lambda: node.state.head.number)
        self.samples: deque[tuple[float, int, int]] = deque(maxlen=SAMPLES)
        self._summaries: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._latest: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.watch.start()
        self._thread = threading.Thread(target=self._sample, name="pavm-samples", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.watch.stop()

    def _member_urls(self) -> dict[str, str]:
        members = self.node.members
        urls = {}
        for name in members.names():
            registration = members.get(name)
            if registration is not None and registration.url:
                urls[name] = registration.url
        return urls

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.node.state.head.number, len(self.node.txpool)))
            self._stop.wait(1.0)

    # -- the overview -------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """Head, series, validators, recent blocks and rejections: what the page shows
        before anything is clicked (made at most every ``FRESH_FOR`` seconds)."""
        with self._lock:
            if self._latest is not None and time.monotonic() - self._latest[0] < FRESH_FOR:
                return self._latest[1]
        made = self._overview()
        with self._lock:
            self._latest = (time.monotonic(), made)
        return made

    def _overview(self) -> dict[str, Any]:
        node = self.node
        head = node.store.head_number()
        numbers = range(max(1, head - BLOCKS + 1), head + 1)
        verdicts = {n: node.store.verdicts(n) for n in numbers}
        seen = self.watch.snapshot()
        members = node.members.names()
        silent = set(node.members.silent())
        blocks = []
        for n in numbers:
            summary = dict(self._summary(n))
            agree = [v["validator"] for v in verdicts[n] if v.get("agree")]
            reject = [v["validator"] for v in verdicts[n] if not v.get("agree")]
            summary["agree"], summary["reject"] = len(agree), len(reject)
            summary["missing"] = len(set(members) - set(agree) - set(reject))
            summary["strategies"] = sorted(
                {r["strategy"] for s in seen.values() if (r := s.reports.get(n)) is not None}
            )
            blocks.append(summary)
        return {
            "time": time.time(),
            "head": head,
            "pool": len(node.txpool),
            "chainId": node.state.config.chain_id,
            "transport": node.settings.transport,
            "blockInterval": node.settings.block_interval,
            "members": len(members),
            "samples": [list(s) for s in self.samples],
            "blocks": blocks,
            "validators": [
                _validator(name, seen.get(name), verdicts, head, name in silent) for name in members
            ],
            "rejected": [
                {"number": n, "validator": v["validator"], "reason": v.get("reason", "")}
                for n in numbers
                for v in verdicts[n]
                if not v.get("agree")
            ],
        }

    def _summary(self, number: int) -> dict[str, Any]:
        """What a block holds, from the store (cached: mined blocks do not change)."""
        with self._lock:
            cached = self._summaries.get(number)
        if cached is not None:
            return cached
        block = self.node.store.block(number)
        if block is None:
            raise KeyError(number)
        summary = {
            "number": number,
            "hash": "0x" + block.hash.hex(),
            "timestamp": block.header.timestamp,
            "transactions": len(block.transactions),
            "groups": len(block.groups),
            "largestGroup": max((len(g) for g in block.groups), default=0),
            "rwsetBytes": len(block_rwset_encoding(block.rwsets)),
            "gasUsed": block.header.gas_used,
        }
        with self._lock:
            self._summaries[number] = summary
            while len(self._summaries) > SUMMARIES:
                self._summaries.popitem(last=False)
        return summary

    # -- pages ----------------------------------------------------------------------------

    def block(self, number: int) -> dict[str, Any] | None:
        """One block with its transactions, groups, R/W sets, operation-receipt hashes,
        every verdict and every validator's report; ``None`` beyond the head."""
        if not 0 <= number <= self.node.store.head_number():
            return None
        tag = hex(number)
        reports = {}
        for name in self.node.members.names():
            report = self.watch.report(name, number)
            if report is not None:
                reports[name] = report
        return {
            "summary": self._summary(number) if number else None,
            "block": self._call("eth_getBlockByNumber", [tag, True]),
            "groups": self._call("pavm_getBlockGroups", [tag]),
            "rwsets": self._call("pavm_getBlockRWSet", [tag]),
            "commitments": self._call("pavm_getBlockCommitments", [tag]),
            "verdicts": self.node.store.verdicts(number),
            "reports": reports,
        }

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        """A mined transaction: itself, its receipt, its operation receipt (group and
        recorded operations) and its R/W set, with the first ``SHOWN`` logs and
        operations and how many there are; ``None`` when not mined. An operation
        receipt the node cannot replay now (busy, or past the call deadline) is left
        out with the reason, and the rest is still shown."""
        receipt = self._call("eth_getTransactionReceipt", [tx_hash])
        if receipt is None:
            return None
        index = int(receipt["transactionIndex"], 16)
        logs = receipt["logs"]
        found: dict[str, Any] = {
            "transaction": self._call("eth_getTransactionByHash", [tx_hash]),
            "receipt": {**receipt, "logs": logs[:SHOWN]},
            "logCount": len(logs),
            "operationReceipt": None,
            "operationCount": 0,
            "operationError": None,
            "rwset": self._call("pavm_getBlockRWSet", [receipt["blockNumber"]])[index],
        }
        try:
            replayed = self._call("pavm_getOperationReceipt", [tx_hash, {"limit": SHOWN}])
        except RpcError as exc:
            found["operationError"] = exc.message
        else:
            found["operationReceipt"] = replayed
            found["operationCount"] = replayed["operationCount"]
        return found

    def _call(self, method: str, params: list[Any]) -> Any:
        """A JSON-RPC method of this miner, in process (``RpcError`` on bad input)."""
        return self.methods[method](params)


def _validator(
    name: str,
    seen: Seen | None,
    verdicts: dict[int, list[dict[str, Any]]],
    head: int,
    silent: bool,
) -> dict[str, Any]:
    """One validator's row: its state, lag, last verdict and per-block series."""
    mine = {n: v for n, vs in verdicts.items() for v in vs if v["validator"] == name}
    last = max(mine, default=None)
    info = seen.info if seen is not None else {}
    reports = seen.reports if seen is not None else {}
    validator_head = info.get("head", last if last is not None else 0)
    if seen is not None and seen.error:
        state = "unreachable"
    elif silent:
        state = "silent"
    elif info:
        state = "synced" if info.get("synced") else "syncing"
    else:
        state = "verdicts only" if seen is None else "unknown"
    return {
        "name": name,
        "state": state,
        "error": seen.error if seen is not None else "",
        "head": validator_head,
        "lag": head - validator_head if isinstance(validator_head, int) else None,
        "strategy": info.get("strategy"),
        "workers": info.get("workers"),
        "rejectedCounts": info.get("rejected", {}),
        "droppedCounts": info.get("dropped", {}),
        "lastVerdict": None
        if last is None
        else {
            "number": last,
            "agree": bool(mine[last].get("agree")),
            "reason": mine[last].get("reason", ""),
        },
        "validationMs": [[n, v.get("validation_ms", 0.0)] for n, v in sorted(mine.items())],
        "speedup": [[n, r.get("speedupEstimate")] for n, r in reports.items()],
        "utilisation": [[n, r.get("workerUtilisation", [])] for n, r in reports.items()],
        "cores": next(reversed(reports.values()), {}).get("cores", []) if reports else [],
    }
