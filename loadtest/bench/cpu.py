"""Per-core CPU utilisation while something runs (the paper's Figs. 19 and 20).

A background thread samples ``psutil.cpu_percent(percpu=True)`` at a fixed interval;
the result keeps the time series and each core's mean over the whole run, computed
from the cores' CPU times at start and end (exact, whatever the sampling interval).
Sampling costs one short wake-up per interval, so it may run beside a measurement.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psutil

T = TypeVar("T")


@dataclass(frozen=True)
class CpuProfile:
    """Per-core utilisation (percent, 0-100) of the machine during one run."""

    seconds: float
    mean: list[float]
    """Each core's utilisation over the whole run."""
    samples: list[list[float]]
    """One row per sampling interval, one column per core."""
    interval: float


def _busy(before: Any, after: Any) -> float:
    total = sum(after) - sum(before)
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (
        before.idle + getattr(before, "iowait", 0.0)
    )
    return round(100.0 * (1 - idle / total), 1) if total > 0 else 0.0


def profile(action: Callable[[], T], interval: float = 0.05) -> tuple[T, CpuProfile]:
    """Run ``action`` and return its result with the per-core utilisation meanwhile."""
    samples: list[list[float]] = []
    done = threading.Event()

    def sample() -> None:
        psutil.cpu_percent(percpu=True)  # the first call only sets the baseline
        while not done.wait(interval):
            samples.append(list(psutil.cpu_percent(percpu=True)))

    thread = threading.Thread(target=sample, daemon=True)
    before = psutil.cpu_times(percpu=True)
    started = time.perf_counter()
    thread.start()
    try:
        result = action()
    finally:
        done.set()
        thread.join()
    seconds = time.perf_counter() - started
    after = psutil.cpu_times(percpu=True)
    mean = [_busy(b, a) for b, a in zip(before, after, strict=True)]
    return result, CpuProfile(round(seconds, 4), mean, samples, interval)
