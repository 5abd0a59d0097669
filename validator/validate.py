"""Parallel block validation (paper Fig. 9, validator side).

    block ─▶ SIGNATURE ─▶ STRUCTURE ─▶ GROUP ─▶ DISPATCH (K pinned workers)
                                                   │
       verdict ◀─ HEADER ◀─ STATE ROOT ◀─ MERGE ◀─ VERIFY (observed R/W == declared,
                                                           receipts, gas)

Each phase is one method of :class:`Validator`, called in this order by
``Validator._validate``: ``_check_signature``, ``_check_structure``, ``_check_groups``,
``_dispatch``, ``_verify``, ``_merge``, ``_state_root``, ``_check_header``, and
``_accept`` for the verdict.

A block is accepted only when every check passes; the first failing check raises
:class:`InvalidBlock` with its own reason, naming the transaction and state key
where there is one. On acceptance the validator's state and every worker's replica
advance by the block's merged diff.
"""

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from common.chain.block import Block, Header
from common.chain.commit import NodeBuffer, balance_at, commit
from common.chain.execute import TxOutcome
from common.chain.grouping import find_cross_group_conflict, groups_encoding, groups_hash
from common.chain.receipts import OpReceipt
from common.chain.roots import ReceiptCommitments, receipt_commitments, transactions_root
from common.chain.rwset import (
    BALANCE,
    EXISTS,
    WIPED,
    AccountWrite,
    block_rwset_encoding,
    first_difference,
    merge_writes,
    rwset_hash,
)
from common.chain.state import ChainState, next_base_fee
from common.errors import InvalidBlock, WorkerFailure
from common.store.chain import ChainStore
from common.types import HEADER_SLOT
from validator.strategies import STRATEGIES, Execution, Strategy, execute
from validator.worker import ApplyDiff, Span
from validator.workers import WorkerPool

log = logging.getLogger("pavm.validator")

BODY_MISMATCH = frozenset(
    {"transactions_root_mismatch", "rwset_hash_mismatch", "groups_hash_mismatch"}
)
"""Reasons that say the body is not the one the signed header commits to: whoever sent
it changed or made it up, so it is a bad message to drop, not a verdict on the block."""


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """How an accepted block was validated, with the time of each phase in seconds."""

    number: int
    block_hash: bytes
    transactions: int
    groups: int
    largest_group: int
    workers: int
    execute_s: float
    """Dispatch to workers until the last one answered."""
    merge_s: float
    state_root_s: float
    total_s: float
    worker_cpu_s: tuple[float, ...]
    receipts: tuple[OpReceipt, ...]
    """The receipts this validator computed, in block order."""
    subcalls_lent: int = 0
    """Sub-calls that idle workers speculated for another worker's transaction."""
    strategy: str = "groups"
    executions: int = 0
    """Transactions executed, re-executions included."""
    wasted_cpu_s: float = 0.0
    """CPU of executions thrown away (``optimistic``)."""
    rounds: tuple[tuple[int, ...], ...] = ()
    """The transactions each round executed (``optimistic``)."""
    task_cpu_s: tuple[float, ...] = ()
    """CPU seconds of each transaction's last execution, in block order (task
    strategies; empty for the others)."""
    spans: tuple[Span, ...] = ()
    """Which worker ran which group, transaction or lent sub-calls, from when to when
    (seconds since the jobs went out)."""
    cores: tuple[int | None, ...] = ()
    """The core each worker is pinned to."""


@dataclass(frozen=True, slots=True)
class _Verified:
    """What VERIFY hands on: the header's commitments as this validator computed them."""

    receipts: tuple[OpReceipt, ...]
    commitments: ReceiptCommitments
    gas_used: int


@dataclass(frozen=True, slots=True)
class _Commitment:
    """What STATE ROOT hands on: the post-block root and its trie nodes, not yet written."""

    nodes: NodeBuffer
    state_root: bytes
    rooted: float
    """``time.monotonic()`` once the root was computed, before it was checked."""


class Validator:
    """Validates the blocks of one miner, in order, with ``workers`` pinned processes.

    Worker replicas keep every account and slot they touched in py-evm's journal, a
    flat cache that grows with the state they have seen; every ``refresh_every``
    accepted blocks the workers are forked afresh from the validator's state, which
    bounds that growth (measured: about 0.2 MB per 300-transaction block).

    With a ``store``, each accepted block is written with its new trie nodes and the
    validator's own receipts in one transaction.
    """

    def __init__(
        self,
        state: ChainState,
        miner: bytes,
        workers: int = 2,
        pin: bool = True,
        refresh_every: int = 256,
        store: ChainStore | None = None,
        strategy: Strategy = "groups",
    ):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        self.strategy: Strategy = strategy
        self.fallbacks = 0
        """Blocks the strategy rejected and serial validation accepted (a fault)."""
        self.state = state
        self.store = store
        self.miner = miner
        self.refresh_every = refresh_every
        self.workers = WorkerPool(workers, self._replica_source, pin=pin)
        self._dispatched = False
        """Whether the block being validated reached the workers (so their replicas
        may hold part of it and must be forked afresh if it is rejected)."""

    def _replica_source(self) -> tuple[Any, bytes]:
        return self.state.db, self.state.head.state_root

    def close(self) -> None:
        self.workers.close()

    def rewind(self, state: ChainState) -> None:
        """Go on from ``state``, an ancestor of the head (the miner continued another
        chain than the one validated): the workers are forked afresh from it."""
        self.state = state
        self.workers.respawn_all()

    def __enter__(self) -> "Validator":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def validate(self, block: Block) -> ValidationReport:
        """Accept ``block`` and advance, or raise :class:`InvalidBlock` and stay.

        The strategy decides; a block it rejects once its transactions ran is run
        again serially, whose reason is the one reported, so validators name the same
        reason whatever strategy they run (and should the strategy have rejected a
        block serial execution accepts, the block is accepted and the fault logged)."""
        try:
            return self._attempt(block, self.strategy)
        except InvalidBlock as exc:
            if self.strategy == "serial" or not exc.after_execution:
                raise
            report = self._attempt(block, "serial")
            self.fallbacks += 1
            log.error(
                "strategy %s rejected block %d (%s) that serial validation accepts",
                self.strategy,
                block.header.number,
                exc.reason,
            )
            return report

    def _attempt(self, block: Block, strategy: Strategy) -> ValidationReport:
        self._dispatched = False
        try:
            return self._validate(block, strategy)
        except InvalidBlock as exc:
            if self._dispatched:
                # Workers may have executed part of the block on their replicas.
                self.workers.respawn_all()
                exc.after_execution = exc.reason != "worker_failed"
            raise
        except WorkerFailure as exc:
            self.workers.respawn_all()
            raise InvalidBlock("worker_failed", str(exc)) from exc

    def _validate(self, block: Block, strategy: Strategy) -> ValidationReport:
        """The phases of the module diagram, in order; the first to fail raises."""
        started = time.monotonic()
        lent = self.workers.lent
        header = block.header
        self._check_signature(header)
        self._check_structure(block)
        self._check_groups(block)
        execution = self._dispatch(block, strategy)
        verified = self._verify(block, execution.outcomes)
        diff = self._merge(header, execution)
        merged = time.monotonic()
        committed = self._state_root(header, diff)
        self._check_header(header, verified, committed.state_root)
        self._accept(block, verified.receipts, committed.nodes, diff)
        finished = time.monotonic()
        return ValidationReport(
            number=header.number,
            block_hash=header.hash,
            transactions=len(block.transactions),
            groups=len(block.groups),
            largest_group=max((len(g) for g in block.groups), default=0),
            workers=self.workers.size,
            execute_s=execution.executed - execution.dispatched,
            merge_s=merged - execution.executed,
            state_root_s=committed.rooted - merged,
            total_s=finished - started,
            worker_cpu_s=execution.worker_cpu_s,
            receipts=verified.receipts,
            subcalls_lent=self.workers.lent - lent,
            strategy=strategy,
            executions=execution.executions,
            wasted_cpu_s=execution.wasted_cpu_s,
            rounds=tuple(tuple(r) for r in execution.rounds),
            task_cpu_s=tuple(execution.task_cpu_s[i] for i in sorted(execution.task_cpu_s)),
            spans=execution.spans,
            cores=tuple(self.workers.cores),
        )

    def _check_signature(self, header: Header) -> None:
        """SIGNATURE: a validator follows one miner, so a block that miner did not sign is
        refused before any work is spent on it (``bad_signature``)."""
        problem = header.seal_problem()
        if problem:
            raise InvalidBlock("bad_signature", f"non-canonical seal: {problem}")
        signer = header.signer()
        if signer != self.miner:
            who = "invalid signature" if signer is None else f"signed by 0x{signer.hex()}"
            raise InvalidBlock("bad_signature", f"{who}, expected miner 0x{self.miner.hex()}")

    def _check_structure(self, block: Block) -> None:
        """STRUCTURE: the header must extend the head under the chain's rules and the body
        must be what the header commits to, before the body is trusted for scheduling
        (``bad_header``, ``transactions_root_mismatch``, ``bad_body``,
        ``rwset_hash_mismatch``, ``groups_hash_mismatch``, ``bad_groups``)."""
        header, head = block.header, self.state.head
        n = len(block.transactions)
        expected: list[tuple[str, object, object]] = [
            ("parent_hash", header.parent_hash, head.hash),
            ("number", header.number, head.number + 1),
            ("gas_limit", header.gas_limit, self.state.config.gas_limit),
            ("base_fee", header.base_fee, next_base_fee(head, self.state.config)),
        ]
        for name, got, want in expected:
            if got != want:
                raise InvalidBlock("bad_header", f"{name} is {_show(got)}, expected {_show(want)}")
        if header.timestamp <= head.timestamp:
            raise InvalidBlock("bad_header", "timestamp does not advance")
        if transactions_root(block.transactions) != header.transactions_root:
            raise InvalidBlock(
                "transactions_root_mismatch", "transactions do not match the header's root"
            )
        if rwset_hash(block_rwset_encoding(block.rwsets)) != header.rwset_hash:
            raise InvalidBlock("rwset_hash_mismatch", "R/W sets do not match the header's hash")
        if groups_hash(groups_encoding(block.groups, block.group_gas)) != header.groups_hash:
            raise InvalidBlock("groups_hash_mismatch", "groups do not match the header's hash")
        if len(block.rwsets) != n:
            raise InvalidBlock("bad_body", f"{len(block.rwsets)} R/W sets for {n} transactions")
        members = sorted(i for g in block.groups for i in g)
        if members != list(range(n)) or any(list(g) != sorted(g) or not g for g in block.groups):
            raise InvalidBlock(
                "bad_groups", "groups must partition the transactions, ascending inside"
            )

    def _check_groups(self, block: Block) -> None:
        """GROUP: groups run on separate replicas, which equals serial execution only if
        no two groups share a key by the declared R/W sets (``conflicting_groups``).
        Whether the declarations are true is left to VERIFY."""
        conflict = find_cross_group_conflict(block.rwsets, block.groups)
        if conflict is not None:
            index, key = conflict
            what = "reads the beneficiary" if key is None else _describe_key(key)
            raise InvalidBlock(
                "conflicting_groups",
                f"transaction {index} {what} and conflicts with a transaction of another group",
                index,
            )

    def _dispatch(self, block: Block, strategy: Strategy) -> Execution:
        """DISPATCH: execute the block on the workers by ``strategy``
        (``validator/strategies.py``), outcomes in block order. A transaction a worker
        could not execute rejects the block (``invalid_transaction``); a
        :class:`WorkerFailure` raised here becomes ``worker_failed`` in :meth:`validate`."""
        env = self.state.env_of(block.header)
        self._dispatched = True
        return execute(strategy, self.workers, env, block)

    def _verify(self, block: Block, outcomes: tuple[TxOutcome, ...]) -> _Verified:
        """VERIFY: the grouping was only safe if every transaction touched exactly what
        the miner declared (``rwset_mismatch``), and the header must commit to the
        receipts and gas this validator computed (``receipt_mismatch``, ``gas_mismatch``)."""
        header = block.header
        for index, (declared, outcome) in enumerate(zip(block.rwsets, outcomes, strict=True)):
            if declared != outcome.rwset:
                raise InvalidBlock(
                    "rwset_mismatch",
                    f"transaction {index}: {first_difference(declared, outcome.rwset)}",
                    index,
                )
        receipts = tuple(o.receipt for o in outcomes)
        commitments = receipt_commitments(block.transactions, receipts)
        for name, computed in commitments._asdict().items():
            declared = getattr(header, name)
            if computed != declared:
                raise InvalidBlock(
                    "receipt_mismatch",
                    f"{name} 0x{computed.hex()[:64]} != header 0x{declared.hex()[:64]}",
                )
        gas_used = sum(r.gas_used for r in receipts)
        if gas_used != header.gas_used:
            raise InvalidBlock("gas_mismatch", f"gas used {gas_used} != header {header.gas_used}")
        return _Verified(receipts, commitments, gas_used)

    def _merge(self, header: Header, execution: Execution) -> dict[bytes, AccountWrite]:
        """MERGE: the block's diff, every transaction's writes in block order, plus the fee
        credit the workers pooled instead of racing on the beneficiary. Rejects nothing."""
        diff = merge_writes(o.rwset for o in execution.outcomes)
        if execution.credit:
            self._credit_beneficiary(diff, header.beneficiary, execution.credit)
        return diff

    def _credit_beneficiary(
        self, diff: dict[bytes, AccountWrite], beneficiary: bytes, credit: int
    ) -> None:
        """Add the pooled fee credit to the beneficiary's post-block balance in ``diff``."""
        earlier = diff.get(beneficiary, AccountWrite())
        if earlier.flags & (BALANCE | WIPED):
            balance = earlier.balance
        else:
            balance = balance_at(self.state.db, self.state.head.state_root, beneficiary)
        diff[beneficiary] = earlier.then(AccountWrite(BALANCE | EXISTS, balance + credit))

    def _state_root(self, header: Header, diff: dict[bytes, AccountWrite]) -> _Commitment:
        """STATE ROOT: commit ``diff`` onto the head's trie in memory, so nothing reaches
        the database unless the root is the header's (``state_root_mismatch``)."""
        nodes = NodeBuffer(self.state.db)
        state_root = commit(nodes, self.state.head.state_root, diff)
        rooted = time.monotonic()
        if state_root != header.state_root:
            raise InvalidBlock(
                "state_root_mismatch",
                f"state root 0x{state_root.hex()} != header 0x{header.state_root.hex()}",
            )
        return _Commitment(nodes, state_root, rooted)

    def _check_header(self, header: Header, verified: _Verified, state_root: bytes) -> None:
        """HEADER: rebuilt from what this validator computed, the header must hash the
        same, so no field escapes the checks above (``header_mismatch``)."""
        rebuilt = replace(
            header,
            state_root=state_root,
            gas_used=verified.gas_used,
            seal=b"",
            receipts_root=verified.commitments.receipts_root,
            logs_bloom=verified.commitments.logs_bloom,
            op_receipts_root=verified.commitments.op_receipts_root,
        )
        if rebuilt.seal_hash != header.seal_hash:
            raise InvalidBlock("header_mismatch", "rebuilt header hashes differently")

    def _accept(
        self,
        block: Block,
        receipts: tuple[OpReceipt, ...],
        nodes: NodeBuffer,
        diff: dict[bytes, AccountWrite],
    ) -> None:
        """Verdict: write the block's trie nodes (and, with a store, the block and its
        receipts) in one transaction, advance, and bring the workers to the new state:
        by the diff, or by a fresh fork every ``refresh_every`` blocks."""
        header = block.header
        with self.state.db.atomic_batch() as batch:
            for node_hash, node in nodes.nodes.items():
                batch[node_hash] = node
            if self.store is not None:
                self.store.put_block(batch, block, receipts)
        self.state = self.state.advance(header)
        if header.number % self.refresh_every == 0:
            self.workers.respawn_all()
        else:
            self.workers.apply(ApplyDiff(diff))


def _describe_key(key: tuple[bytes, int]) -> str:
    address, slot = key
    if slot == HEADER_SLOT:
        return f"touches account 0x{address.hex()}"
    return f"touches 0x{address.hex()} slot {slot:#x}"


def _show(value: object) -> str:
    return f"0x{value.hex()}" if isinstance(value, bytes) else str(value)


def validate_block(parent: ChainState, block: Block, miner: bytes, workers: int = 2) -> Header:
    """Validate one block on a short-lived pool; returns its header when accepted."""
    with Validator(parent, miner, workers) as validator:
        validator.validate(block)
        return validator.state.head


__all__ = ["InvalidBlock", "ValidationReport", "Validator", "validate_block"]
