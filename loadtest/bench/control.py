"""The control beside every parallel measurement: how well this machine runs K
processes at once right now.

The cores here are virtual and time-shared by the host, so two processes may run
anywhere from 1.1x to 2x as fast as one from minute to minute. A fixed CPU-bound
loop is timed in one process and then in K pinned processes at once;
``machine_scaling = K * t_one / t_all`` is the speedup the machine itself offered,
and a measured speedup divided by it (``efficiency``) is what the software achieved.
"""

import multiprocessing
import os
import time
from dataclasses import dataclass

from validator.workers import allowed_cores

LOOP = 3_000_000
"""Iterations of the control loop (about 0.2 s of one core here)."""
_FORK = multiprocessing.get_context("fork")


def _spin(iterations: int, core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    total = 0
    for i in range(iterations):
        total += i * i
    del total


def _wall(processes: int, iterations: int) -> float:
    cores = allowed_cores()
    started = time.perf_counter()
    workers = [
        _FORK.Process(target=_spin, args=(iterations, cores[i % len(cores)]))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Scaling:
    processes: int
    one_s: float
    all_s: float

    @property
    def machine_scaling(self) -> float:
        return round(self.processes * self.one_s / self.all_s, 3)


def measure_scaling(processes: int, iterations: int = LOOP) -> Scaling:
    """Time the loop in one process, then in ``processes`` processes at once."""
    return Scaling(processes, _wall(1, iterations), _wall(processes, iterations))
