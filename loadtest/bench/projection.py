"""What a strategy's schedule would take on more cores than this machine has: a
**projection**, not a measurement.

Input: the CPU seconds each transaction took when it ran alone (measured), the block's
dependency structure as each strategy sees it, and the fixed cost of a block around
execution (decoding, checks, state root; measured). Each strategy's work is list-
scheduled onto N cores, longest first, and the makespan plus the fixed cost is the
projected validation time:

- groups:     each group's summed time is one job (groups are serial inside);
- declared:   every transaction a job; a beneficiary reader waits for all earlier ones;
- optimistic: the rounds as they happened, each round's jobs scheduled after the last;
- serial:     the sum, on one core whatever N is.

It assumes perfectly scalable cores and free communication, which a real 40-core
machine does not give: it bounds what the schedule allows, nothing more.
"""

import heapq
from collections.abc import Sequence


def makespan(jobs: Sequence[float], cores: int) -> float:
    """Longest-processing-time-first list scheduling onto ``cores``: the finish time."""
    loads = [0.0] * min(cores, max(1, len(jobs)))
    heapq.heapify(loads)
    for job in sorted(jobs, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + job)
    return max(loads) if jobs else 0.0


def groups_time(times: Sequence[float], groups: Sequence[Sequence[int]], cores: int) -> float:
    return makespan([sum(times[i] for i in g) for g in groups], cores)


def declared_time(times: Sequence[float], readers: set[int], cores: int) -> float:
    """Segments between beneficiary readers run in parallel; each reader alone after
    everything before it (a barrier), so the segments' makespans add up."""
    total, segment = 0.0, list[float]()
    for i, t in enumerate(times):
        if i in readers:
            total += makespan(segment, cores) + t
            segment = []
        else:
            segment.append(t)
    return total + makespan(segment, cores)


def optimistic_time(times: Sequence[float], rounds: Sequence[Sequence[int]], cores: int) -> float:
    return sum(makespan([times[i] for i in r], cores) for r in rounds)


def project(
    strategy: str,
    times: Sequence[float],
    cores: int,
    *,
    groups: Sequence[Sequence[int]],
    readers: set[int],
    rounds: Sequence[Sequence[int]],
    fixed_s: float,
) -> float:
    """Projected seconds to validate the block with ``strategy`` on ``cores``."""
    if strategy == "groups":
        work = groups_time(times, groups, cores)
    elif strategy == "declared":
        work = declared_time(times, readers, cores)
    elif strategy == "optimistic":
        work = optimistic_time(times, rounds, cores)
    else:
        work = sum(times)
    return work + fixed_s
