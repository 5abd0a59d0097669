"""A validation worker: one process pinned to one core, holding its own state replica.

The replica is a recording account database that lives as long as the worker and
advances block by block: the worker executes the groups it is sent on it, then
applies the block's merged diff (absolute post-values, so re-applying what it wrote
itself is harmless). It never computes a state root; its journal is the flat view of
everything that changed since it was started.

Sub-calls of the fork-join precompile are speculated on idle cores: a worker that
meets one asks the validator (:class:`Speculate`), which hands part of the calls to
workers that have finished their groups and tells the asker which ones to run itself
(:class:`Kept`); their effects come back (:class:`Speculated`) and the asker joins
them in thread-id order (``common/evm/forkjoin.py``).
"""

import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from eth.db.account import AccountDB
from eth_typing import Address
from eth_utils import ValidationError

from common.chain.execute import TxOutcome, execute_transaction
from common.chain.rwset import STORAGE_WIPED, WIPED, AccountWrite, apply_diff
from common.evm.forkjoin import Effects, SpeculateFn, Speculative, speculate_here
from common.evm.forkpoint import Speculate, Speculated, capture, speculate_at
from common.evm.forks import BlockEnv, decode_transaction
from common.evm.recording import Op, RecordingAccountDB
from common.evm.subcalls import SubCall
from common.store.kv import open_in_child


@dataclass(frozen=True, slots=True)
class Span:
    """When worker ``worker`` ran group or transaction ``ident`` (``kind``), by
    ``time.monotonic()``: the system-wide monotonic clock, so the spans of every worker
    process of a block lie on one time line (the dashboard's Gantt chart)."""

    worker: int
    kind: str
    """``group``, ``tx`` or ``subcalls`` (sub-calls speculated for another worker)."""
    ident: int
    """The group's or transaction's index; for ``subcalls``, the asking worker."""
    start: float
    end: float
    cpu: float


@dataclass(frozen=True, slots=True)
class RunGroups:
    """Execute these groups, each a list of (tx index, raw tx), on the replica."""

    env: BlockEnv
    groups: list[tuple[int, list[tuple[int, bytes]]]]
    offload: bool = False
    """Whether other workers may take sub-calls (there are others)."""


@dataclass(frozen=True, slots=True)
class Task:
    """One transaction to validate on its own, from the parent state overlaid with
    ``inputs`` (post-values of earlier transactions' writes) and with ``credit`` wei of
    fee credit pending for the beneficiary."""

    index: int
    raw: bytes
    inputs: dict[bytes, AccountWrite]
    credit: int = 0


@dataclass(frozen=True, slots=True)
class RunTasks:
    """Execute each task alone on the replica, undoing it afterwards."""

    env: BlockEnv
    tasks: list[Task]


@dataclass(frozen=True, slots=True)
class TaskDone:
    index: int
    outcome: TxOutcome | None
    """``None`` when the transaction was invalid (``invalid`` says why)."""
    credit: int
    """Fee credit pending after it (what the next beneficiary reader starts with)."""
    cpu_seconds: float
    invalid: str | None = None
    started_credit: int = 0
    """The credit it was given."""
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class TasksDone:
    done: list[TaskDone]
    broken: bool = False
    """The replica could not be restored after the last task done: the worker must be
    replaced, and the tasks not in ``done`` sent elsewhere."""


@dataclass(frozen=True, slots=True)
class Kept:
    """The validator's answer to a :class:`Speculate`: the calls the asker runs itself."""

    tids: list[int]


@dataclass(frozen=True, slots=True)
class ApplyDiff:
    """Advance the replica by a validated block's merged writes."""

    diff: dict[bytes, AccountWrite]


@dataclass(frozen=True, slots=True)
class GroupsDone:
    """Outcomes of a :class:`RunGroups`, or the first transaction that was invalid."""

    outcomes: list[tuple[int, TxOutcome]]
    pending_credit: int
    """Fee credits not yet flushed into the beneficiary, summed over the groups."""
    cpu_seconds: float
    invalid: tuple[int, str] | None = None
    spans: tuple[Span, ...] = ()
    """One per group run."""


def run_groups(
    raw_db: Any,
    db: RecordingAccountDB,
    job: RunGroups,
    conn: Connection | None = None,
    worker: int = 0,
) -> GroupsDone:
    """Execute each group serially on the replica ``db`` (over ``raw_db``).

    Groups share no written key, so running them one after another on one replica
    gives each the state it would see alone.
    """
    started = time.process_time()
    state = job.env.recording_state(raw_db, db.state_root)
    state.use_account_db(db)
    earlier: list[Op] = []
    """Surviving writes of the transactions run so far (what a helper must replay)."""
    if job.offload and conn is not None:
        state.subcall_runner = Speculative(_offload(conn, job.env, earlier))
    outcomes: list[tuple[int, TxOutcome]] = []
    spans: list[Span] = []
    credit = 0
    for group, members in job.groups:
        began, began_cpu = time.monotonic(), time.process_time()
        db.begin_group()
        for index, raw in members:
            try:
                outcome = execute_transaction(state, decode_transaction(raw))
            except (ValidationError, ValueError) as exc:
                return GroupsDone(
                    outcomes, credit, time.process_time() - started, (index, str(exc))
                )
            earlier.extend(db.writes)
            outcomes.append((index, replace(outcome, ops=())))
        credit += db.pending_credit
        spans.append(
            Span(
                worker,
                "group",
                group,
                began,
                time.monotonic(),
                time.process_time() - began_cpu,
            )
        )
    return GroupsDone(outcomes, credit, time.process_time() - started, spans=tuple(spans))


def run_tasks(raw_db: Any, db: RecordingAccountDB, job: RunTasks, worker: int = 0) -> TasksDone:
    """Execute each task on the replica ``db`` at the parent state: inside a
    checkpoint, apply its inputs, run it from there (``start_from``: its inputs are
    where it starts), and discard the checkpoint, so the next task finds the parent
    state again."""
    db.lock_changes()  # a clean start: no journal to keep, every account cold
    state = job.env.recording_state(raw_db, db.state_root)
    state.use_account_db(db)
    done = []
    for task in job.tasks:
        began, started = time.monotonic(), time.process_time()
        mark = db.task_checkpoint()
        apply_diff(db, _without_needless_wipes(db, task.inputs))
        db.start_from(*starting_storage(task.inputs))
        db.begin_group()
        db.pending_credit = task.credit
        outcome, invalid = None, None
        try:
            outcome = replace(
                execute_transaction(state, decode_transaction(task.raw), lock=False), ops=()
            )
        except (ValidationError, ValueError) as exc:
            invalid = str(exc)
        credit = db.pending_credit
        db.forget_start()
        cpu = time.process_time() - started
        span = Span(worker, "tx", task.index, began, time.monotonic(), cpu)
        done.append(TaskDone(task.index, outcome, credit, cpu, invalid, task.credit, span))
        try:
            db.undo_task(mark)
        except ValidationError:
            return TasksDone(done, broken=True)
    return TasksDone(done)


def _without_needless_wipes(
    db: RecordingAccountDB, inputs: dict[bytes, AccountWrite]
) -> dict[bytes, AccountWrite]:
    """``inputs`` without wiping accounts that do not exist in the parent state (whose
    storage is empty already: the accounts a block creates or destroys, since
    SELFDESTRUCT deletes only accounts created in the same transaction). py-evm can
    undo one storage wipe per checkpoint, and the task itself may make another."""
    wipes = WIPED | STORAGE_WIPED
    return {
        address: (
            replace(write, flags=write.flags & ~wipes)
            if write.flags & wipes and not AccountDB.account_exists(db, Address(address))
            else write
        )
        for address, write in inputs.items()
    }


def starting_storage(
    inputs: dict[bytes, AccountWrite],
) -> tuple[dict[tuple[bytes, int], int], frozenset[bytes]]:
    """(slot values, accounts whose other slots are 0) a task's inputs set."""
    values = {(a, slot): v for a, w in inputs.items() for slot, v in w.storage.items()}
    wiped = frozenset(a for a, w in inputs.items() if w.flags & (WIPED | STORAGE_WIPED))
    return values, wiped


def _offload(conn: Connection, env: BlockEnv, earlier: list[Op]) -> SpeculateFn:
    """Speculate sub-calls here and on whatever idle workers the validator lends.

    Only the outermost fork-join asks: one nested inside a sub-call being speculated
    here runs in this process, so a worker never has two requests out and the
    validator's answers arrive in order (:class:`Kept`, then :class:`Speculated`)."""
    asking = False

    def speculate(computation: Any, calls: list[SubCall], allowance: int) -> dict[int, Effects]:
        nonlocal asking
        if asking:
            return speculate_here(computation, calls, allowance)
        asking = True
        try:
            conn.send(Speculate(capture(computation, env, earlier), calls, allowance))
            kept: Kept = conn.recv()
            mine = [c for c in calls if c.tid in kept.tids]
            effects = speculate_here(computation, mine, allowance)
            if len(kept.tids) < len(calls):
                answer: Speculated = conn.recv()
                effects.update(answer.effects)
            return effects
        finally:
            asking = False

    return speculate


def worker_main(conn: Connection, db: Any, state_root: bytes, worker: int = 0) -> None:
    """Serve jobs from ``conn`` until told to stop, as worker number ``worker``; ``db``
    is an in-memory database inherited through fork or a handle to open the on-disk
    store."""
    db = open_in_child(db)
    replica = RecordingAccountDB(db, state_root)  # type: ignore[arg-type]
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if isinstance(job, RunGroups):
            conn.send(run_groups(db, replica, job, conn, worker))
        elif isinstance(job, RunTasks):
            conn.send(run_tasks(db, replica, job, worker))
        elif isinstance(job, Speculate):
            started = time.process_time()
            effects = speculate_at(job.fork, db, replica, job.calls, job.allowance)
            conn.send(Speculated(effects, time.process_time() - started))
        elif isinstance(job, ApplyDiff):
            apply_diff(replica, job.diff)
            replica.lock_changes()
        else:
            return
