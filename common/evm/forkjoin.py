"""The fork-join precompile: the serial definition of a set of sub-calls, and a
speculative run that must give exactly the same answer (invariant 8,
docs/architecture.md).

**Definition.** ``parallel(calls)`` at :data:`~common.evm.subcalls.PARALLEL_ADDRESS`:

1. The input is decoded (:func:`~common.evm.subcalls.decode_calls`); bad input, or a
   call by DELEGATECALL/CALLCODE (which would let a contract speak for its caller),
   fails the precompile and burns its gas.
2. It costs ``base + per_call × n``, plus ``cold_target`` for each distinct target
   not yet warm, which it then warms, so every sub-call starts with its target warm
   (the figures are the chain's gas schedule, ``common/evm/gas_schedule.py``).
3. The gas left is split equally: each sub-call gets ``left // n`` and returns what it
   does not use; a sub-call's allowance never depends on another one.
4. The calls run one after another in thread-id order, as message calls from the
   precompile's caller (static when the precompile was called statically), each on
   the state, warm sets and transient storage the previous ones left; a failing one
   is reverted alone, exactly as a CALL would be.
5. The output is one ``(success, returndata)`` per call, by thread id.

**Speculation.** :class:`Speculative` runs every call that has no ``after`` from the
fork point (the state as step 2 left it), each recording its own operations, then
joins them in thread-id order: a call whose operations touch a key (an account, a
storage slot, a transient slot, including making it warm) that an earlier call wrote
or warmed, or that touches the block beneficiary, is run again on the joined state;
any other call's recorded effects are applied as they are. The joined
operations, writes, logs, refunds and gas are the serial definition's: a call that
touches none of what earlier calls changed observes exactly what it would have
observed after them. Effects are plain data (:class:`Effects`), so a speculative run
can happen in another process as well as in this one.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Protocol, cast

from eth.abc import ComputationAPI
from eth.db.account import AccountDB
from eth.exceptions import VMError
from eth.vm.forks.spurious_dragon._utils import collect_touched_accounts
from eth.vm.message import Message
from eth_typing import Address

from common.evm.gas_schedule import DEFAULT_GAS
from common.evm.recording import FIRST_WRITE, Op, OpKind, RecordingAccountDB
from common.evm.subcalls import (
    PARALLEL_ADDRESS,
    BadSubcalls,
    SubCall,
    SubCallMessage,
    SubResult,
    check_calls,
    decode_calls,
    encode_results,
)

Key = tuple[Any, ...]
"""What two sub-calls can conflict on: ``("a", address)`` for an account's balance,
nonce, code and existence, ``("s", address, slot)``, ``("S", address)`` for all of an
account's storage, ``("t", address, slot)`` for transient storage."""

_ACCOUNT_OPS = frozenset(
    {
        OpKind.READ_EXISTS,
        OpKind.READ_BALANCE,
        OpKind.READ_NONCE,
        OpKind.READ_CODE,
        OpKind.READ_CODE_HASH,
        OpKind.WRITE_BALANCE,
        OpKind.WRITE_NONCE,
        OpKind.WRITE_CODE,
        OpKind.CREATE_ACCOUNT,
        OpKind.WARM_ACCOUNT,
    }
)
_SLOT_OPS = frozenset(
    {OpKind.READ_STORAGE, OpKind.READ_ORIGINAL_STORAGE, OpKind.WRITE_STORAGE, OpKind.WARM_SLOT}
)
_TRANSIENT_OPS = frozenset({OpKind.READ_TRANSIENT, OpKind.WRITE_TRANSIENT})
_CHANGES = frozenset(
    {k for k in OpKind if k >= FIRST_WRITE} - {OpKind.LOG, OpKind.REFUND, OpKind.MARK}
)
"""Kinds that change something another sub-call could observe (writes and warm marks)."""


def _keys(op: Op) -> tuple[Key, ...]:
    kind, address, slot, _ = op
    if kind in _SLOT_OPS:
        return (("s", address, slot),)
    if kind in _ACCOUNT_OPS:
        return (("a", address),)
    if kind in _TRANSIENT_OPS:
        return (("t", address, slot),)
    if kind == OpKind.DELETE_STORAGE:
        return (("S", address),)
    if kind == OpKind.DELETE_ACCOUNT:
        return (("a", address), ("S", address))
    return ()


_WARM_OPS = frozenset({OpKind.WARM_ACCOUNT, OpKind.WARM_SLOT})


@dataclass
class Footprint:
    """What the sub-calls joined so far changed, to tell whether a later call's
    speculative run saw what the serial definition would have shown it."""

    warm_at_fork: set[Key]
    """Keys known to be warm at the fork point: warming them again changes nothing
    (py-evm warms the coinbase in every call frame, for one). Any other warm mark
    counts as a change: at worst a call runs again that did not need to."""
    changed: set[Key] = field(default_factory=set)
    storage_changed: set[bytes] = field(default_factory=set)
    """Accounts with a changed slot (a call that wiped their storage conflicts)."""

    def add(self, ops: list[Op]) -> None:
        for op in ops:
            if op[0] in _CHANGES:
                for key in _keys(op):
                    if op[0] in _WARM_OPS and key in self.warm_at_fork:
                        continue
                    self.changed.add(key)
                    if key[0] == "s":
                        self.storage_changed.add(key[1])

    def touched_by(self, ops: list[Op]) -> bool:
        for op in ops:
            for key in _keys(op):
                if key in self.changed:
                    return True
                if key[0] == "s" and ("S", key[1]) in self.changed:
                    return True
                if key[0] == "S" and key[1] in self.storage_changed:
                    return True
        return False


@dataclass(frozen=True)
class Effects:
    """Everything one sub-call did, as plain data: enough to apply it to another
    copy of the fork-point state and to get the serial definition's bookkeeping."""

    success: bool
    output: bytes
    gas_remaining: int
    """Gas handed back to the precompile (0 when the call burnt its allowance)."""
    refund: int
    ops: list[Op]
    writes: list[Op]
    """Surviving state writes, in order."""
    warmed: list[tuple[bytes, int | None]]
    """Accounts (slot ``None``) and slots still warm afterwards that were cold before."""
    transient: list[tuple[bytes, int, bytes]]
    """Final values of the transient slots it wrote."""
    logs: list[tuple[bytes, tuple[int, ...], bytes]]
    deleted: list[bytes]
    """Accounts it SELFDESTRUCTed (deleted at the end of the transaction)."""
    beneficiaries: list[bytes]
    """Where those SELFDESTRUCTs sent their balance."""
    created: list[bytes]
    """Contracts it created (they count as created in this transaction)."""
    touched: list[bytes]
    """Accounts it touched, which py-evm checks for EIP-161 deletion at the end of the
    transaction."""


def _message(computation: ComputationAPI, call: SubCall, gas: int) -> Message:
    code = computation.state.get_code(call.target)
    message = SubCallMessage(
        gas=gas,
        to=call.target,
        sender=computation.msg.sender,
        value=0,
        data=call.data,
        code=code,
        depth=computation.msg.depth + 1,
        is_static=computation.msg.is_static,
    )
    message.discard = call.discard
    return message


def _charge(computation: ComputationAPI, calls: list[SubCall]) -> int:
    """Steps 1-3 of the definition; returns each sub-call's gas allowance."""
    if computation.msg.storage_address != PARALLEL_ADDRESS:
        raise VMError("the fork-join precompile cannot be DELEGATECALLed or CALLCODEd")
    state = computation.state
    gas = getattr(state.execution_context, "gas", DEFAULT_GAS).fork_join
    computation.consume_gas(gas.base + gas.per_call * len(calls), reason="fork-join")
    for target in dict.fromkeys(c.target for c in calls):
        if not state.is_address_warm(target):
            computation.consume_gas(gas.cold_target, reason="fork-join cold target")
            state.mark_address_warm(target)
    return computation.get_gas_remaining() // len(calls)


def _run_serially(computation: ComputationAPI, call: SubCall, allowance: int) -> SubResult:
    """Step 4 for one call: exactly what a CALL with ``allowance`` gas does."""
    computation.consume_gas(allowance, reason=f"sub-call {call.tid}")
    child = computation.apply_child_computation(_message(computation, call, allowance))
    if not child.should_burn_gas:
        computation.return_gas(child.get_gas_remaining())
    return SubResult(child.is_success, child.output)


class Runner(Protocol):
    """How a state runs the sub-calls of one precompile call."""

    def run(
        self, computation: ComputationAPI, calls: list[SubCall], allowance: int
    ) -> list[SubResult]: ...


class Serial:
    """The definition itself: one call after another, on py-evm's own message calls."""

    def run(
        self, computation: ComputationAPI, calls: list[SubCall], allowance: int
    ) -> list[SubResult]:
        return [_run_serially(computation, call, allowance) for call in calls]


SpeculateFn = Callable[[ComputationAPI, list[SubCall], int], dict[int, Effects]]
"""Runs the given calls from the fork point; their effects by thread id."""


def speculate_here(
    computation: ComputationAPI, calls: list[SubCall], allowance: int
) -> dict[int, Effects]:
    """Run each call from the fork point in this process, one by one, undoing each."""
    return {call.tid: _speculate_one(computation, call, allowance) for call in calls}


def _speculate_one(computation: ComputationAPI, call: SubCall, allowance: int) -> Effects:
    state: Any = computation.state
    db = _recording_db(state)
    ops_start, writes_start = len(db.ops), len(db.writes)
    created_start = len(computation.contracts_created)
    snapshot = state.snapshot()
    child = computation.generate_child_computation(_message(computation, call, allowance))
    ops = db.ops[ops_start:]
    ok = child.is_success
    effects = Effects(
        success=ok,
        output=child.output,
        gas_remaining=0 if child.should_burn_gas else child.get_gas_remaining(),
        refund=child.get_gas_refund() if ok else 0,
        ops=ops,
        writes=db.writes[writes_start:] if ok else [],
        warmed=still_warm(db, ops) if ok else [],
        transient=transient_values(state, ops) if ok else [],
        logs=[(a, t, d) for _, a, t, d in child.get_raw_log_entries()],
        deleted=list(child.get_accounts_for_deletion()),
        beneficiaries=list(child.get_self_destruct_beneficiaries()),
        created=list(computation.contracts_created[created_start:]) if ok else [],
        touched=sorted(collect_touched_accounts(child)),
    )
    state.revert(snapshot)
    del db.ops[ops_start:]
    del computation.contracts_created[created_start:]
    return effects


def _warm_now(db: RecordingAccountDB, ops: list[Op]) -> set[Key]:
    """The accounts and slots ``ops`` mention that are warm in ``db`` now."""
    warm: set[Key] = set()
    for kind, address, slot, _ in ops:
        if kind in _SLOT_OPS:
            if AccountDB.is_storage_warm(db, Address(address), slot):
                warm.add(("s", address, slot))
        elif kind in _ACCOUNT_OPS and AccountDB.is_address_warm(db, Address(address)):
            warm.add(("a", address))
    return warm


def still_warm(db: RecordingAccountDB, ops: list[Op]) -> list[tuple[bytes, int | None]]:
    """What ``ops`` warmed and is still warm (a reverted frame's warm marks are undone)."""
    warmed: list[tuple[bytes, int | None]] = []
    for kind, address, slot, _ in ops:
        if kind == OpKind.WARM_ACCOUNT and AccountDB.is_address_warm(db, Address(address)):
            warmed.append((address, None))
        elif kind == OpKind.WARM_SLOT and AccountDB.is_storage_warm(db, Address(address), slot):
            warmed.append((address, slot))
    return warmed


def transient_values(state: Any, ops: list[Op]) -> list[tuple[bytes, int, bytes]]:
    """The current values of the transient slots ``ops`` wrote, read past the recorder."""
    storage = state.transient_storage
    written = sorted({(a, s) for kind, a, s, _ in ops if kind == OpKind.WRITE_TRANSIENT})
    return [(a, s, bytes(storage.get_transient_storage(Address(a), s))) for a, s in written]


def mark_warm(db: RecordingAccountDB, warm: list[tuple[bytes, int | None]]) -> None:
    """Warm these accounts (slot ``None``) and slots past the recorder."""
    for address, slot in warm:
        if slot is None:
            AccountDB.mark_address_warm(db, Address(address))
        else:
            AccountDB.mark_storage_warm(db, Address(address), slot)


class Speculative:
    """Run what can run from the fork point at once (``speculate``), then join in
    thread-id order, running again whatever saw less than the serial definition."""

    def __init__(self, speculate: SpeculateFn = speculate_here) -> None:
        self.speculate = speculate
        self.reruns = 0
        """Calls whose speculative run was thrown away (for benchmarks)."""

    def run(
        self, computation: ComputationAPI, calls: list[SubCall], allowance: int
    ) -> list[SubResult]:
        early = self.speculate(computation, [c for c in calls if not c.after], allowance)
        db = _recording_db(computation.state)
        beneficiary = db.beneficiary
        joined = Footprint(_warm_now(db, [op for e in early.values() for op in e.ops]))
        results = []
        for call in calls:
            effects = early.get(call.tid)
            if (
                effects is None
                or joined.touched_by(effects.ops)
                or any(op[1] == beneficiary and op[0] not in _WARM_OPS for op in effects.ops)
            ):
                if effects is not None:
                    self.reruns += 1
                start = len(db.ops)
                results.append(_run_serially(computation, call, allowance))
                joined.add(db.ops[start:])
            else:
                results.append(_apply(computation, db, effects, allowance))
                joined.add(effects.ops)
        return results


def _apply(
    computation: ComputationAPI, db: RecordingAccountDB, effects: Effects, allowance: int
) -> SubResult:
    """Apply one speculative run's effects as the serial run would have made them."""
    computation.consume_gas(allowance, reason="sub-call")
    computation.return_gas(effects.gas_remaining)
    db.ops.extend(effects.ops)
    db.writes.extend(effects.writes)
    for kind, address, slot, value in effects.writes:
        replay_write(db, kind, Address(address), slot, value)
    mark_warm(db, effects.warmed)
    storage = cast(Any, computation.state).transient_storage
    for address, slot, value in effects.transient:
        storage.set_transient_storage(Address(address), slot, value)
    for address, topics, data in effects.logs:
        computation.add_log_entry(Address(address), topics, data)
    computation.refund_gas(effects.refund)
    computation.accounts_to_delete.extend(Address(a) for a in effects.deleted)
    computation.beneficiaries.extend(Address(b) for b in effects.beneficiaries)
    computation.contracts_created.extend(Address(a) for a in effects.created)
    state = computation.state
    computation.children.extend(cast(Any, _Touch(Address(a), state)) for a in effects.touched)
    return SubResult(effects.success, effects.output)


class _Touch:
    """Stands in the computation tree for an account a joined sub-call touched: py-evm
    finds the accounts to check for EIP-161 deletion by walking the tree, and the
    speculative run's own computations stayed behind."""

    is_error = False
    children: tuple[()] = ()

    def __init__(self, address: Address, state: Any) -> None:
        self.msg = SimpleNamespace(to=address, is_create=False)
        self.state = state

    def get_self_destruct_beneficiaries(self) -> list[Address]:
        return []

    def get_accounts_for_deletion(self) -> list[Address]:
        return []

    def get_raw_log_entries(self) -> tuple[()]:
        return ()

    def get_gas_refund(self) -> int:
        return 0


def replay_write(
    db: RecordingAccountDB, kind: int, address: Address, slot: int, value: Any
) -> None:
    """One recorded state write, applied past the recorder (its op is already kept)."""
    if kind == OpKind.WRITE_BALANCE:
        AccountDB.set_balance(db, address, value)
    elif kind == OpKind.WRITE_NONCE:
        AccountDB.set_nonce(db, address, value)
    elif kind == OpKind.WRITE_CODE:
        AccountDB.set_code(db, address, value)
    elif kind == OpKind.WRITE_STORAGE:
        AccountDB.set_storage(db, address, slot, value)
    elif kind == OpKind.DELETE_STORAGE:
        AccountDB.delete_storage(db, address)
    elif kind == OpKind.DELETE_ACCOUNT:
        AccountDB.delete_account(db, address)
    elif kind == OpKind.CREATE_ACCOUNT:
        AccountDB.touch_account(db, address)


def _recording_db(state: Any) -> RecordingAccountDB:
    db = state._account_db
    if not isinstance(db, RecordingAccountDB):
        raise TypeError("speculative sub-calls need the recording account database")
    return db


def parallel_precompile(computation: ComputationAPI) -> ComputationAPI:
    """The precompile at :data:`PARALLEL_ADDRESS`, with the runner its state carries
    (serial unless the state was given another). A join of the SUBSOL instruction
    (``common/evm/instructions.py``) calls it with its queue instead of ABI input."""
    queued = getattr(computation.msg, "subcalls", None)
    try:
        calls = decode_calls(bytes(computation.msg.data)) if queued is None else check_calls(queued)
    except BadSubcalls as exc:
        raise VMError(f"fork-join: {exc}") from None
    allowance = _charge(computation, calls)
    runner: Runner = getattr(computation.state, "subcall_runner", None) or Serial()
    computation.output = encode_results(runner.run(computation, calls, allowance))
    return computation
