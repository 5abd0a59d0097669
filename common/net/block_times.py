"""When each recent block was sealed (miner) or arrived and was judged (validator).

Propagation and verdict latency are differences of these wall-clock times taken on
different nodes, so they hold to the extent the nodes' clocks agree: exactly for
containers of one host (one kernel clock), to NTP's accuracy across hosts. Served
as ``pavm_getBlockTimes`` (``common/rpc/pavm.py``); ``pavm scenario run`` builds its
latency figures on them.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

KEPT = 4096
"""Blocks remembered, newest kept."""
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

    def between(self, start: int, end: int) -> list[BlockTime]:
        """The times known of blocks ``start..end``, oldest first; blocks not
        remembered are left out."""
        with self._lock:
            found = [self._times.get(n) for n in range(start, end + 1)]
        return [entry for entry in found if entry is not None]
