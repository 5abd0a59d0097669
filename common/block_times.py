"""When each recent block was sealed (miner) or arrived and was judged (validator).

Propagation and verdict latency are differences of these wall-clock times taken on
different nodes, so they hold to the extent the nodes' clocks agree: exactly for
containers of one host (one kernel clock), to NTP's accuracy across hosts. Served
as ``pavm_getBlockTimes``; ``pavm scenario run`` builds its latency figures on them.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from common.rpc.dispatch import expect_params
from common.rpc.errors import invalid_params
from common.rpc.hexcodec import parse_quantity, to_quantity

KEPT = 4096
"""Blocks remembered, newest kept."""
MAX_RANGE = 256
"""Blocks one ``pavm_getBlockTimes`` call answers for."""
Via = Literal["sealed", "push", "redis", "fetch"]
"""``sealed``: mined here; the others: how a validator first got the block it
validated (an HTTP push, Redis pub/sub, or fetched from the miner to fill a gap)."""


@dataclass(slots=True)
class BlockTime:
    number: int
    via: Via
    at: float
    """Epoch seconds: sealed and about to be broadcast, or arrived."""
    verdict_at: float | None = None
    accepted: bool | None = None


class BlockTimes:
    """The times of the last :data:`KEPT` blocks, safe to use from several threads."""

    def __init__(self) -> None:
        self._times: OrderedDict[int, BlockTime] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, number: int, via: Via, at: float) -> None:
        """The first time a block is recorded counts; a later copy changes nothing."""
        with self._lock:
            if number in self._times:
                return
            self._times[number] = BlockTime(number, via, at)
            while len(self._times) > KEPT:
                self._times.popitem(last=False)

    def judged(self, number: int, accepted: bool, at: float) -> None:
        with self._lock:
            entry = self._times.get(number)
            if entry is not None and entry.verdict_at is None:
                entry.verdict_at, entry.accepted = at, accepted

    def forget(self, number: int) -> None:
        """A block dropped unjudged (bad signature, body mismatch): its next copy is
        the arrival that counts."""
        with self._lock:
            entry = self._times.get(number)
            if entry is not None and entry.verdict_at is None:
                del self._times[number]

    def rewound(self, number: int) -> None:
        """Blocks above ``number`` were taken off the chain: the blocks that take
        their heights next are new arrivals."""
        with self._lock:
            for height in [n for n in self._times if n > number]:
                del self._times[height]

    def rpc(self, params: list[Any]) -> list[dict[str, Any]]:
        """``pavm_getBlockTimes(start, end)``: the times known of blocks start..end
        (at most :data:`MAX_RANGE`), oldest first; blocks not remembered are left out."""
        first, last = expect_params(params, 2)
        start = parse_quantity(first, "start", limit=2**63 - 1)
        end = parse_quantity(last, "end", limit=2**63 - 1)
        if end < start or end - start + 1 > MAX_RANGE:
            raise invalid_params(f"need start <= end and at most {MAX_RANGE} blocks")
        with self._lock:
            found = [self._times.get(n) for n in range(start, end + 1)]
        return [_json(entry) for entry in found if entry is not None]


def _json(entry: BlockTime) -> dict[str, Any]:
    out: dict[str, Any] = {"number": to_quantity(entry.number), "via": entry.via, "at": entry.at}
    if entry.verdict_at is not None:
        out["verdictAt"], out["accepted"] = entry.verdict_at, entry.accepted
    return out
