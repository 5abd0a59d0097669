"""Watching a scenario from the host: twice a second, the miner's head and every
validator's, read through their published ports (which no link shaping touches), and
the transactions of each new block; a progress line every two seconds.

What the report says about faults — when one was first seen, when every validator
was back at the head — is read off these samples, so it is what an operator polling
the nodes would have seen, to within the sampling period.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from common.errors import PavmError
from common.rpc.client import call
from loadtest.testnet.probe import head_or_none

PERIOD = 0.5
PROGRESS_EVERY = 2.0
PROBE_TIMEOUT = 1.0


@dataclass(frozen=True)
class Sample:
    t: float
    """Seconds since the load started (negative before)."""
    miner: int | None
    validators: dict[str, int | None]
    """Each validator's head, ``None`` when it did not answer."""
    epoch: float = 0.0
    """When it was taken (epoch seconds)."""

    def at_head(self) -> int:
        """Validators at (or past, for a moment) the miner's head."""
        if self.miner is None:
            return 0
        return sum(1 for h in self.validators.values() if h is not None and h >= self.miner)

    def off_head(self, names: list[str], blocks: int) -> bool:
        """Some of ``names`` not answering, or ``blocks`` or more behind the miner."""
        if self.miner is None:
            return True
        heads = [self.validators.get(n) for n in names]
        return any(h is None or h <= self.miner - blocks for h in heads)


class Observer:
    """Samples in a thread of its own until stopped."""

    def __init__(
        self,
        miner_url: Callable[[], str | None],
        validator_urls: Callable[[], dict[str, str | None]],
        origin: float,
        say: Callable[[str], None],
        phase: Callable[[], str],
    ) -> None:
        self.miner_url = miner_url
        self.validator_urls = validator_urls
        self.origin = origin
        """Epoch time the load started (or will)."""
        self.say = say
        self.phase = phase
        self.samples: list[Sample] = []
        self.block_txs: dict[int, int] = {}
        """Transactions per block, as blocks appear."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="observe")
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="probe")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def _loop(self) -> None:
        last_progress = 0.0
        while not self._stop.is_set():
            try:
                sample = self.sample()
                self.samples.append(sample)
                if sample.miner is not None:
                    self._count_transactions(sample.miner)
                now = time.monotonic()
                if now - last_progress >= PROGRESS_EVERY:
                    last_progress = now
                    self.say(self.progress(sample))
            except Exception as exc:  # noqa: BLE001 - the samples must go on through faults
                self.say(f"[scenario] sampling failed once: {exc}")
            self._stop.wait(PERIOD)

    def sample(self) -> Sample:
        urls = self.validator_urls()
        heads = dict(zip(urls, self._pool.map(_probe, urls.values()), strict=True))
        miner = _probe(self.miner_url())
        now = time.time()
        return Sample(now - self.origin, miner, heads, now)

    def _count_transactions(self, head: int) -> None:
        start = max(self.block_txs, default=head - 1) + 1
        url = self.miner_url()
        for number in range(max(1, start), head + 1):
            if url is None:
                return
            try:
                count = call(url, "eth_getBlockTransactionCountByNumber", [hex(number)])
            except (httpx.HTTPError, PavmError):
                return
            self.block_txs[number] = int(count, 16) if count else 0

    def rate(self, window: float = 5.0) -> float:
        """Transactions per second mined over the last ``window`` seconds of samples."""
        recent = [s for s in self.samples if s.miner is not None]
        if len(recent) < 2:
            return 0.0
        end = recent[-1]
        begin = next((s for s in recent if s.t >= end.t - window), recent[0])
        if end.t <= begin.t or end.miner is None or begin.miner is None:
            return 0.0
        mined = sum(self.block_txs.get(n, 0) for n in range(begin.miner + 1, end.miner + 1))
        return mined / (end.t - begin.t)

    def progress(self, sample: Sample) -> str:
        head = "down" if sample.miner is None else str(sample.miner)
        return (
            f"[scenario] {sample.t:6.1f} s  {self.phase():<7} head {head:>5}  "
            f"{self.rate():7.1f} tx/s  validators at head {sample.at_head()}/"
            f"{len(sample.validators)}"
        )


def _probe(url: str | None) -> int | None:
    return head_or_none(url, PROBE_TIMEOUT)
