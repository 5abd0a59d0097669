"""A pool of persistent, pinned validation workers that never leaves the validator hanging.

Over an in-memory state, workers are forked from the validator's process, so a new
worker starts with the validator's current state at no copying cost; over an on-disk
store they are spawned and open their own reader of it. Either way that is also how
a dead worker is replaced. A job whose worker dies is sent once more to its replacement;
a second death on the same job raises :class:`WorkerFailure`.
"""

import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from common.errors import WorkerFailure
from common.evm.forkjoin import Effects
from common.evm.forkpoint import Speculate, Speculated, deal
from common.evm.forks import BlockEnv
from common.store.kv import DiskHandle, handle_for_child
from validator.worker import (
    ApplyDiff,
    GroupsDone,
    Kept,
    RunGroups,
    RunTasks,
    Span,
    Task,
    TaskDone,
    TasksDone,
    worker_main,
)

_FORK = multiprocessing.get_context("fork")
_SPAWN = multiprocessing.get_context("spawn")


def allowed_cores() -> list[int]:
    """Cores this process may run on, in ascending order."""
    return sorted(os.sched_getaffinity(0))


PROGRESS_EVERY = 30.0
"""Seconds between the log lines that say workers are still busy with a block."""
log = logging.getLogger("pavm.workers")


@dataclass
class _Worker:
    process: Any
    conn: Connection
    core: int | None


@dataclass
class _Lending:
    """Which workers help which with sub-calls during one :meth:`WorkerPool.run`."""

    idle: set[int]
    """Workers with nothing to do: done with their groups, or given none."""
    helping: dict[int, int] = field(default_factory=dict)
    """Helper → the worker it speculates for."""
    collected: dict[int, dict[int, Effects]] = field(default_factory=dict)
    """Asker → effects its helpers sent so far."""
    since: dict[int, float] = field(default_factory=dict)
    """Helper → ``time.monotonic()`` when it was lent."""
    spans: dict[int, list[Span]] = field(default_factory=dict)
    """Asker → when its helpers worked for it (added to its answer's spans)."""

    def forget(self, asker: int) -> None:
        """``asker`` died: what its helpers send back goes nowhere."""
        self.collected.pop(asker, None)
        self.spans.pop(asker, None)


@dataclass
class WorkerPool:
    """``size`` workers, worker ``i`` pinned to the ``i``-th allowed core (round robin).

    ``source`` returns the (database, state root) a new worker starts from: the
    validator's latest accepted state.
    """

    size: int
    source: Callable[[], tuple[Any, bytes]]
    pin: bool = True
    restarts: int = 0
    lent: int = 0
    """Sub-calls handed to idle workers so far."""
    progress_every: float = PROGRESS_EVERY
    """Seconds between log lines while workers are busy with one block."""
    _workers: list[_Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("a worker pool needs at least one worker")
        cores = allowed_cores()
        self._cores = [cores[i % len(cores)] if self.pin else None for i in range(self.size)]
        self._workers = [self._spawn(i) for i in range(self.size)]

    def _spawn(self, index: int) -> _Worker:
        db, root = self.source()
        handle = handle_for_child(db)
        context = _SPAWN if isinstance(handle, DiskHandle) else _FORK
        parent_end, child_end = context.Pipe()
        core = self._cores[index]
        process = context.Process(
            target=worker_main,
            args=(child_end, handle, root, index),
            name=f"pavm-worker-{index}",
            daemon=True,
        )
        process.start()
        if core is not None and process.pid is not None:
            # Pinned from here, before any job can reach it.
            os.sched_setaffinity(process.pid, {core})
        child_end.close()
        return _Worker(process, parent_end, core)

    def _replace(self, index: int) -> None:
        old = self._workers[index]
        old.conn.close()
        if old.process.is_alive():
            old.process.kill()
        old.process.join(5)
        self._workers[index] = self._spawn(index)
        self.restarts += 1

    @property
    def cores(self) -> list[int | None]:
        """The core each worker is pinned to (``None``: not pinned)."""
        return list(self._cores)

    def respawn_all(self) -> None:
        """Start every worker afresh from ``source`` (after a rejected block)."""
        for index in range(self.size):
            self._replace(index)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def run(self, jobs: Sequence[RunGroups | None]) -> list[GroupsDone | None]:
        """Send ``jobs[i]`` to worker ``i`` and collect the answers, replacing dead
        workers; meanwhile lend workers that are done (or had no job) to those that ask
        for help with sub-calls."""
        results: list[GroupsDone | None] = [None] * self.size
        attempts = [0] * self.size
        waiting: set[int] = set()
        lending = _Lending(idle={i for i, job in enumerate(jobs) if job is None})
        for index, job in enumerate(jobs):
            if job is not None:
                self._send(index, job)
                attempts[index] = 1
                waiting.add(index)
        while waiting:
            handles: dict[Any, int] = {}
            for index in waiting | set(lending.helping):
                worker = self._workers[index]
                handles[worker.conn] = index
                handles[worker.process.sentinel] = index
            ready = wait(list(handles), timeout=self.progress_every)
            if not ready:
                # Alive but slow (a heavy block on a loaded host): execution is bounded
                # by the block's gas, so waiting is right; only a death is a failure.
                log.info("workers %s still running their groups", sorted(waiting))
                continue
            handled: set[int] = set()
            for handle in ready:
                index = handles[handle]
                # A worker's pipe and sentinel may both be ready; once handled (maybe
                # replaced), its other stale handle must not count as a second death.
                if index in handled or (index not in waiting and index not in lending.helping):
                    continue
                handled.add(index)
                answer = self._receive(index)
                if isinstance(answer, GroupsDone):
                    lent = tuple(lending.spans.pop(index, ()))
                    results[index] = replace(answer, spans=answer.spans + lent)
                    waiting.discard(index)
                    lending.idle.add(index)
                elif isinstance(answer, Speculate):
                    self._lend(index, answer, lending)
                elif isinstance(answer, Speculated):
                    self._return(index, answer, lending)
                elif index in lending.helping:
                    self._replace(index)  # a helper died: its asker runs those calls
                    self._return(index, Speculated({}), lending)
                else:
                    if attempts[index] >= 2:
                        raise WorkerFailure(f"worker {index} died twice on the same block")
                    lending.forget(index)
                    self._replace(index)
                    job = jobs[index]
                    assert job is not None
                    self._send(index, job)
                    attempts[index] += 1
        return results

    def run_tasks(
        self,
        env: BlockEnv,
        order: Sequence[Task],
        ready: Callable[[Task, dict[int, TaskDone]], Task | None],
        chunk: int = 1,
    ) -> tuple[dict[int, TaskDone], list[float]]:
        """Hand out single-transaction tasks as workers become free (dynamic list
        scheduling from one queue, in ``order``: longest first), up to ``chunk`` at a
        time. ``ready`` gives the task to send once it may run (a beneficiary reader
        waits for every earlier transaction and gets their fee credit), else ``None``.
        A dead worker's tasks go back to the queue for its replacement, once. Returns
        the results by transaction and the CPU seconds each worker spent on them."""
        queue = list(order)
        results: dict[int, TaskDone] = {}
        cpu = [0.0] * self.size
        out: dict[int, list[Task]] = {}
        attempts: dict[int, int] = {}
        idle = list(range(self.size))
        while queue or out:
            while idle and queue:
                batch: list[Task] = []
                for task in list(queue):
                    sent = ready(task, results)
                    if sent is not None:
                        batch.append(sent)
                        queue.remove(task)
                        if len(batch) == chunk:
                            break
                if not batch:
                    break
                worker = idle.pop(0)
                out[worker] = batch
                self._send(worker, RunTasks(env, batch))
            if not out:
                raise WorkerFailure("no task can run: the scheduler's dependencies are stuck")
            handles: dict[Any, int] = {}
            for index in out:
                handles[self._workers[index].conn] = index
                handles[self._workers[index].process.sentinel] = index
            for handle in wait(list(handles), timeout=self.progress_every):
                index = handles[handle]
                if index not in out:
                    continue
                answer = self._receive(index)
                if isinstance(answer, TasksDone):
                    results.update((d.index, d) for d in answer.done)
                    cpu[index] += sum(d.cpu_seconds for d in answer.done)
                    batch = out.pop(index)
                    if answer.broken:
                        self._replace(index)  # its replica is no longer the parent state
                        queue = [t for t in batch if t.index not in results] + queue
                    idle.append(index)
                    continue
                if answer is not None:
                    continue  # not for us (never sent while tasks run)
                batch = out.pop(index)
                for task in batch:
                    attempts[task.index] = attempts.get(task.index, 0) + 1
                    if attempts[task.index] >= 2:
                        raise WorkerFailure(
                            f"worker {index} died twice on transaction {task.index}"
                        )
                self._replace(index)
                queue = batch + queue
                idle.append(index)
        return results, cpu

    def _lend(self, asker: int, request: Speculate, lending: "_Lending") -> None:
        """Share ``request``'s calls round robin between the asker and every idle worker."""
        helpers = sorted(lending.idle)
        shares = deal(request.calls, len(helpers) + 1)
        given = [(h, share) for h, share in zip(helpers, shares[1:], strict=True) if share]
        self._send(asker, Kept([c.tid for c in shares[0]]))
        if not given:
            return
        lending.collected[asker] = {}
        for helper, share in given:
            self.lent += len(share)
            lending.idle.discard(helper)
            lending.helping[helper] = asker
            lending.since[helper] = time.monotonic()
            self._send(helper, Speculate(request.fork, share, request.allowance))

    def _return(self, helper: int, answer: Speculated, lending: "_Lending") -> None:
        """A helper's effects go to its asker once every helper of that asker answered."""
        asker = lending.helping.pop(helper)
        lending.idle.add(helper)
        began = lending.since.pop(helper)
        collected = lending.collected.get(asker)
        if collected is None:
            return  # the asker died meanwhile: its job runs again from the start
        collected.update(answer.effects)
        span = Span(helper, "subcalls", asker, began, time.monotonic(), answer.cpu_seconds)
        lending.spans.setdefault(asker, []).append(span)
        if asker not in lending.helping.values():
            del lending.collected[asker]
            self._send(asker, Speculated(collected))

    def _send(self, index: int, job: object) -> None:
        try:
            self._workers[index].conn.send(job)
        except (BrokenPipeError, OSError):
            self._replace(index)
            self._workers[index].conn.send(job)

    def _receive(self, index: int) -> object | None:
        """What worker ``index`` sent, or ``None`` when it died."""
        conn = self._workers[index].conn
        try:
            if conn.poll():
                answer: object = conn.recv()
                return answer
        except (EOFError, OSError):
            pass
        return None

    def apply(self, diff: ApplyDiff) -> None:
        """Queue a block's diff on every worker (pipes keep it ahead of the next job)."""
        for index in range(self.size):
            self._send(index, diff)

    def close(self) -> None:
        """Stop every worker.

        Workers are told to stop rather than left to see the pipe close: a worker
        forked later holds copies of earlier workers' pipe ends, so EOF never comes.
        """
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.conn.close()
        for worker in self._workers:
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(2)
        self._workers = []
