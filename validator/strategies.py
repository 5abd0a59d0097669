"""How a validator executes a block (DISPATCH): four strategies, one answer.

- ``groups``      the miner's union-find groups, placed on the workers by LPT, each
                  group run in block order on one replica (paper section IV);
- ``declared``    every transaction a task of its own, dynamically scheduled longest
                  first: it starts from the parent state overlaid with the declared
                  post-values of earlier transactions for what it declares to read
                  (Ethereum's EIP-7928 block-level access lists ship the same facts);
- ``optimistic``  no declarations used: every transaction runs on the parent state at
                  once, then, in rounds, each is checked in block order against the
                  writes of the earlier ones and run again where it read something they
                  changed (Block-STM's validation, with its estimate rule: one that read
                  from a transaction that runs again waits for it), until nothing
                  changes;
- ``serial``      one worker, block order: the floor.

Each returns the transactions' outcomes in block order and the fee credit left for
the beneficiary; VERIFY then compares the observed R/W sets with the declared ones
whatever the strategy, so all four accept exactly the same blocks
(docs/architecture.md, invariant 8, says why ``declared`` is sound).

The beneficiary (invariant 4): a transaction that reads it depends on every earlier
one, whose fee credits it flushes into the balance. Tasks of such a reader wait for
every earlier transaction, and start with the credit those left pending.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from common.chain.block import Block
from common.chain.execute import TxOutcome
from common.chain.grouping import schedule
from common.chain.rwset import AccountWrite, TxRWSet, fold
from common.errors import InvalidBlock
from common.evm.forks import BlockEnv, decode_transaction
from common.types import StateKey
from validator.worker import RunGroups, Span, Task, TaskDone
from validator.workers import WorkerPool

Strategy = Literal["groups", "declared", "optimistic", "serial"]
"""How a validator executes a block (this module's :func:`execute`)."""
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)


@dataclass(frozen=True, slots=True)
class Execution:
    """What DISPATCH hands on: the workers' results, and when they were sent and done."""

    outcomes: tuple[TxOutcome, ...]
    """One per transaction, in block order."""
    credit: int
    """Fee credit the workers pooled for the beneficiary instead of writing it."""
    worker_cpu_s: tuple[float, ...]
    dispatched: float
    """``time.monotonic()`` as the jobs went out (the origin of ``spans``)."""
    executed: float
    """``time.monotonic()`` once the last worker answered."""
    executions: int = 0
    """Transactions executed, re-executions included (``len(outcomes)`` but for
    ``optimistic``)."""
    wasted_cpu_s: float = 0.0
    """CPU spent on executions that were thrown away (``optimistic``)."""
    rounds: list[list[int]] = field(default_factory=list)
    """The transactions each round executed (``optimistic``; a projection's input)."""
    task_cpu_s: dict[int, float] = field(default_factory=dict)
    """CPU seconds of each transaction's last execution (task strategies)."""
    spans: tuple[Span, ...] = ()
    """What each worker ran when, in seconds since the jobs went out."""


Runner = Callable[[WorkerPool, BlockEnv, Block], Execution]
"""One strategy's way of running a block (what :func:`execute` dispatches to)."""


def _since(origin: float, spans: Sequence[Span]) -> tuple[Span, ...]:
    """``spans`` on a time line that starts at ``origin`` (``time.monotonic()``)."""
    return tuple(
        replace(s, start=s.start - origin, end=s.end - origin)
        for s in sorted(spans, key=lambda s: (s.start, s.worker))
    )


def execute(strategy: Strategy, pool: WorkerPool, env: BlockEnv, block: Block) -> Execution:
    """Run ``block``'s transactions by ``strategy`` on ``pool``'s workers (whose replicas
    hold the parent state). A transaction that cannot run raises ``invalid_transaction``."""
    return _RUNNERS[strategy](pool, env, block)


def _run_groups(
    pool: WorkerPool, env: BlockEnv, block: Block, plan: list[list[int]], offload: bool
) -> Execution:
    jobs = [
        RunGroups(
            env,
            [(g, [(i, block.transactions[i]) for i in block.groups[g]]) for g in groups],
            offload=offload,
        )
        if groups
        else None
        for groups in plan
    ]
    dispatched = time.monotonic()
    answers = pool.run(jobs)
    executed = time.monotonic()
    outcomes: list[TxOutcome | None] = [None] * len(block.transactions)
    credit = 0
    for answer in answers:
        if answer is None:
            continue
        if answer.invalid is not None:
            index, reason = answer.invalid
            raise InvalidBlock("invalid_transaction", f"transaction {index}: {reason}", index)
        credit += answer.pending_credit
        for index, outcome in answer.outcomes:
            outcomes[index] = outcome
    done = tuple(o for o in outcomes if o is not None)
    assert len(done) == len(outcomes), "every transaction belongs to exactly one group"
    cpu = tuple(a.cpu_seconds if a else 0.0 for a in answers)
    spans = _since(dispatched, [s for a in answers if a is not None for s in a.spans])
    return Execution(done, credit, cpu, dispatched, executed, executions=len(done), spans=spans)


def _groups(pool: WorkerPool, env: BlockEnv, block: Block) -> Execution:
    """The declared groups, heaviest first onto the least loaded worker."""
    plan = schedule(block.group_gas, pool.size)
    return _run_groups(pool, env, block, plan, offload=pool.size > 1)


def _serial(pool: WorkerPool, env: BlockEnv, block: Block) -> Execution:
    """Every transaction on worker 0, in block order, as one run of fee credits."""
    everything = Block(
        block.header,
        block.transactions,
        block.rwsets,
        (tuple(range(len(block.transactions))),),
        (sum(block.group_gas),),
    )
    plan: list[list[int]] = [[0], *([] for _ in range(pool.size - 1))]
    return _run_groups(pool, env, everything, plan, offload=False)


# -- per-transaction tasks ---------------------------------------------------------------


def declared_inputs(rwsets: Sequence[TxRWSet]) -> list[dict[bytes, AccountWrite]]:
    """Each transaction's inputs: for every account it declares to read, what the
    earlier transactions declared they left there (header fields, the declared-read
    slots, and whether they wiped its storage)."""
    prefix: dict[bytes, AccountWrite] = {}
    inputs = []
    for rwset in rwsets:
        mine = {}
        for address, (_, slots) in rwset.reads.items():
            earlier = prefix.get(address)
            if earlier is not None:
                mine[address] = _restricted(earlier, slots)
        inputs.append(mine)
        fold(prefix, rwset.writes)
    return inputs


def _restricted(write: AccountWrite, slots: Sequence[int]) -> AccountWrite:
    storage = {s: write.storage[s] for s in slots if s in write.storage}
    return AccountWrite(write.flags, write.balance, write.nonce, write.code, storage)


class _Credit:
    """Fee credit pending before each transaction, from the tasks done so far."""

    def __init__(self, readers: set[int]) -> None:
        self.readers = readers

    def before(self, index: int, done: dict[int, TaskDone]) -> int | None:
        """Credit pending when ``index`` starts, or ``None`` until every earlier
        transaction is done (only a beneficiary reader, or the block's end, asks)."""
        if any(j not in done for j in range(index)):
            return None
        last = max((r for r in self.readers if r < index), default=-1)
        credit = done[last].credit if last >= 0 else 0
        return credit + sum(done[j].credit for j in range(last + 1, index))

    def gate(self, task: Task, done: dict[int, TaskDone]) -> Task | None:
        if task.index not in self.readers:
            return task
        credit = self.before(task.index, done)
        return None if credit is None else replace(task, credit=credit)


def _longest_first(block: Block, indices: Sequence[int]) -> list[int]:
    """Heaviest gas limit first (the declared per-transaction cost is not in a block)."""
    limits = {i: decode_transaction(block.transactions[i]).gas for i in indices}
    return sorted(indices, key=lambda i: (-limits[i], i))


def _chunk(pool: WorkerPool, n: int) -> int:
    """Tasks per message: few enough to balance, enough to keep pipes from dominating."""
    return max(1, min(8, n // (4 * pool.size)))


def _outcome(done: TaskDone) -> TxOutcome:
    if done.outcome is None:
        raise InvalidBlock(
            "invalid_transaction", f"transaction {done.index}: {done.invalid}", done.index
        )
    return done.outcome


def _declared(pool: WorkerPool, env: BlockEnv, block: Block) -> Execution:
    n = len(block.transactions)
    inputs = declared_inputs(block.rwsets)
    credit = _Credit({i for i, r in enumerate(block.rwsets) if r.reads_beneficiary})
    tasks = [Task(i, block.transactions[i], inputs[i]) for i in _longest_first(block, range(n))]
    dispatched = time.monotonic()
    done, cpu = pool.run_tasks(env, tasks, credit.gate, _chunk(pool, n))
    executed = time.monotonic()
    outcomes = tuple(_outcome(done[i]) for i in range(n))
    left = credit.before(n, done)
    assert left is not None
    return Execution(
        outcomes,
        left,
        tuple(cpu),
        dispatched,
        executed,
        executions=n,
        task_cpu_s={i: d.cpu_seconds for i, d in done.items()},
        spans=_since(dispatched, [d.span for d in done.values() if d.span is not None]),
    )


# -- optimistic ----------------------------------------------------------------------------


@dataclass
class _Run:
    """One transaction's latest execution and what it was given."""

    done: TaskDone
    incarnation: int
    providers: dict[StateKey, tuple[int, int]]
    """For each key of the accounts it was given: the (transaction, incarnation) whose
    write it saw; a key missing here came from the parent state."""
    full: bool
    """It was given every earlier write (its reads were unknown)."""
    read: set[StateKey]


class _Optimistic:
    """The rounds of one block: execute, check in block order, execute again."""

    def __init__(self, pool: WorkerPool, env: BlockEnv, block: Block) -> None:
        self.pool, self.env, self.block = pool, env, block
        n = len(block.transactions)
        self.runs: list[_Run | None] = [None] * n
        self.accounts: list[set[bytes]] = [set() for _ in range(n)]
        """Accounts each transaction read in any run: what its next run is given."""
        self.readers: set[int] = set()
        self.credit = _Credit(self.readers)
        self.gas = {i: decode_transaction(raw).gas for i, raw in enumerate(block.transactions)}
        self.rounds: list[list[int]] = []
        self.executions = 0
        self.wasted = 0.0
        self.cpu = [0.0] * pool.size
        """CPU seconds each worker spent, over every round."""
        self.spans: list[Span] = []
        """Every execution, the ones thrown away included."""

    def run(self) -> None:
        todo = list(range(len(self.runs)))
        while todo:
            self.rounds.append(sorted(todo))
            self._execute(todo)
            todo = self._check()

    def _execute(self, todo: list[int]) -> None:
        """Run ``todo``, each given the latest writes of the earlier transactions to
        the accounts it read before (all of them after an invalid run)."""
        wanted = set(todo)
        tasks, given = {}, {}
        merged: dict[bytes, AccountWrite] = {}
        writer: dict[StateKey, tuple[int, int]] = {}
        for i, run in enumerate(self.runs):
            if i in wanted:
                full = run is not None and run.done.outcome is None
                keep = self.accounts[i]
                inputs = {a: w.copy() for a, w in merged.items() if full or a in keep}
                providers = {k: v for k, v in writer.items() if full or k[0] in keep}
                tasks[i] = Task(i, self.block.transactions[i], inputs)
                given[i] = (providers, full)
            if run is not None and run.done.outcome is not None:
                rwset = run.done.outcome.rwset
                fold(merged, rwset.writes)
                for key, is_write in rwset.conflict_keys():
                    if is_write:
                        writer[key] = (i, run.incarnation)
        order = [tasks[i] for i in sorted(todo, key=lambda i: (-self.gas[i], i))]

        def gate(task: Task, done: dict[int, TaskDone]) -> Task | None:
            if task.index not in self.readers:
                return task
            view = {}
            for j in range(task.index):
                latest = done.get(j) if j in wanted else self._done(j)
                if latest is None:
                    return None
                view[j] = latest
            credit = self.credit.before(task.index, view)
            return None if credit is None else replace(task, credit=credit)

        done, cpu = self.pool.run_tasks(self.env, order, gate, _chunk(self.pool, len(order)))
        self.cpu = [a + b for a, b in zip(self.cpu, cpu, strict=True)]
        self.spans.extend(d.span for d in done.values() if d.span is not None)
        for i, result in done.items():
            previous = self.runs[i]
            incarnation = 0 if previous is None else previous.incarnation + 1
            if previous is not None:
                self.wasted += previous.done.cpu_seconds
            read = _read_keys(result.outcome)
            providers, full = given[i]
            self.runs[i] = _Run(result, incarnation, providers, full, read)
            self.accounts[i] |= {address for address, _ in read}
            if result.outcome is not None and result.outcome.rwset.reads_beneficiary:
                self.readers.add(i)
            self.executions += 1

    def _done(self, j: int) -> TaskDone | None:
        run = self.runs[j]
        return None if run is None else run.done

    def _check(self) -> list[int]:
        """Transactions whose last run saw other writes than the earlier ones' latest,
        or (a beneficiary reader) another credit; of those, the ones that may run
        again now: none of whose reads comes from an earlier one that must run again
        (the estimate rule). The first stale one always may, so every round makes
        progress. A transaction invalid although it was given exactly the writes of
        valid earlier ones makes the block invalid."""
        stale: list[int] = []
        ready: list[int] = []
        writer: dict[StateKey, tuple[int, int]] = {}
        stale_writes: set[StateKey] = set()
        done = {i: r.done for i, r in enumerate(self.runs) if r is not None}
        for i, run in enumerate(self.runs):
            assert run is not None
            if run.done.outcome is None:
                if not stale and run.full and run.providers == writer:
                    raise InvalidBlock(
                        "invalid_transaction", f"transaction {i}: {run.done.invalid}", i
                    )
                is_stale = True
            else:
                is_stale = any(writer.get(k) != run.providers.get(k) for k in run.read)
                if i in self.readers and not is_stale:
                    credit = None if stale else self.credit.before(i, done)
                    is_stale = credit != run.done.started_credit
            if is_stale:
                waits = (i in self.readers and bool(stale)) or bool(run.read & stale_writes)
                if not stale or not waits:
                    ready.append(i)
                stale.append(i)
            outcome = run.done.outcome
            if outcome is not None:
                for key, is_write in outcome.rwset.conflict_keys():
                    if is_write:
                        writer[key] = (i, run.incarnation)
                        if is_stale:
                            stale_writes.add(key)
        return ready


def _read_keys(outcome: TxOutcome | None) -> set[StateKey]:
    if outcome is None:
        return set()
    return {key for key, is_write in outcome.rwset.conflict_keys() if not is_write}


def _optimistic(pool: WorkerPool, env: BlockEnv, block: Block) -> Execution:
    dispatched = time.monotonic()
    rounds = _Optimistic(pool, env, block)
    rounds.run()
    executed = time.monotonic()
    runs = [r.done for r in rounds.runs if r is not None]
    outcomes = tuple(_outcome(d) for d in runs)
    left = rounds.credit.before(len(runs), dict(enumerate(runs)))
    assert left is not None
    return Execution(
        outcomes,
        left,
        tuple(rounds.cpu),
        dispatched,
        executed,
        executions=rounds.executions,
        wasted_cpu_s=rounds.wasted,
        rounds=rounds.rounds,
        task_cpu_s={d.index: d.cpu_seconds for d in runs},
        spans=_since(dispatched, rounds.spans),
    )


_RUNNERS: dict[Strategy, Runner] = {
    "groups": _groups,
    "declared": _declared,
    "optimistic": _optimistic,
    "serial": _serial,
}
"""Each strategy's runner: a strategy added to :data:`Strategy` without one fails
this module's import, not a block's validation."""
if set(_RUNNERS) != set(STRATEGIES):
    raise ImportError(f"strategies without a runner: {set(STRATEGIES) - set(_RUNNERS)}")
