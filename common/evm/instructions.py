"""PaVM's instructions (paper section III, Table II) in the chain's "pavm" fork.

The paper numbers them 0xA1-0xAA, which Ethereum gives to LOG1-LOG4, so pavm moves
every one up by four, into bytes Prague leaves unused (:data:`BYTES`)::

    byte  name     stack in (top first)                 what it does
    0xA5  SUBSOL   tid, target, argsOffset, argsSize    queue sub-call ``tid`` (1 .. 2**32-1)
                   0, gas, retOffset, retSize           tid 0: join, push 1 on success
    0xA6  SLEEP    tid, milliseconds                    a scheduling hint; changes nothing
    0xA7  REVERTT  tid                                  queued thread ``tid`` ends as if it
                                                        had REVERTed (gas used, output kept)
    0xA8  AFTERW   tid, slot                            the last queued sub-call waits for
    0xA9  AFTERR   tid, slot                              thread ``tid`` (a lower id) ...
    0xAA  AFTERA   tid                                    ... to finish
    0xAB  RR       label                                mark: a recorded scope begins
    0xAC  RPHASH   label                                mark: an operation-hash point
    0xAD  RDR      slot -> value                        SLOAD, recorded (it always is)
    0xAE  WTR      slot, value                          SSTORE, recorded (it always is)

**One engine.** A join (SUBSOL with tid 0) is a call from the current frame to the
fork-join precompile (``common/evm/forkjoin.py``) with the queued sub-calls, so the
opcodes and the precompile share one definition and one speculative runner: the
result is that of running the sub-calls one after another in thread-id order, each a
message call from this frame's address on the state the previous ones left. The join
forwards ``min(gas, all but 1/64 of what is left)`` like CALL, writes the precompile's
output ``((bool success, bytes returndata)[])`` to ``[retOffset, retOffset+retSize)``
and leaves all of it as return data. A frame that ends successfully with sub-calls
still queued joins them first (threads finish before their transaction does); a frame
that fails drops them unrun, as it drops every other effect.

**Data control.** The result is defined serially, so AFTERW/AFTERR/AFTERA cannot
change it; they say that the sub-call queued last needs thread ``tid``'s effects, so a
parallel run does not speculate it from the fork point but starts it on the joined
state. pavm waits for the whole thread even when AFTERW/AFTERR name a slot: waiting
longer is always correct, and the slot is only checked to be a word on the stack.

**Recording.** Every state access is recorded whatever a contract says (grouping
depends on it, invariant 2 in docs/architecture.md), so RDR and WTR are SLOAD and
SSTORE by other names, and RR/RPHASH record a mark (an ``OpKind.MARK`` operation with
the label) into the transaction's write hash: a receipt shows where a contract drew
its scopes, and nothing can be hidden by leaving them out.

Gas: each instruction costs its figure in the chain's gas schedule
(``common/evm/gas_schedule.py``) plus, for SUBSOL, memory expansion and, for RDR/WTR,
what SLOAD/SSTORE cost; a join also pays the precompile's own gas.
"""

from collections.abc import Callable
from typing import Any, cast

from eth.abc import ComputationAPI, OpcodeAPI
from eth.constants import STACK_DEPTH_LIMIT
from eth.exceptions import Revert, VMError
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.opcode import Opcode
from eth_typing import Address

from common.evm.gas_schedule import DEFAULT_GAS, INSTRUCTIONS
from common.evm.recording import OpKind
from common.evm.subcalls import MAX_SUBCALLS, PARALLEL_ADDRESS, JoinMessage, SubCall

BYTES: dict[str, int] = {name: 0xA5 + i for i, name in enumerate(INSTRUCTIONS)}
"""The byte of each instruction: the paper's byte plus four (its bytes are LOG1-LOG4)."""

MARK_RR, MARK_RPHASH = 1, 2
"""Values of the ``OpKind.MARK`` operations that RR and RPHASH record."""

_SLOAD, _SSTORE = PragueComputation.opcodes[0x54], PragueComputation.opcodes[0x55]


def _charge(computation: ComputationAPI, name: str) -> None:
    gas = getattr(computation.state.execution_context, "gas", DEFAULT_GAS)
    computation.consume_gas(gas.instruction(name), reason=name)


def _queue(computation: ComputationAPI) -> list[SubCall]:
    queued: list[SubCall] = cast(Any, computation).queued
    return queued


def subsol(computation: ComputationAPI) -> None:
    """Queue a sub-call, or (tid 0) join the queued ones."""
    _charge(computation, "SUBSOL")
    tid, a, offset, size = computation.stack_pop_ints(4)
    computation.extend_memory(offset, size)
    if tid == 0:
        computation.stack_push_int(join(computation, a, offset, size))
        return
    queued = _queue(computation)
    if len(queued) >= MAX_SUBCALLS:
        raise VMError(f"SUBSOL: at most {MAX_SUBCALLS} sub-calls may be queued")
    target = Address((a % 2**160).to_bytes(20, "big"))
    data = computation.memory_read_bytes(offset, size)
    queued.append(SubCall(tid, target, data))


def join(computation: ComputationAPI, gas: int, ret_offset: int, ret_size: int) -> int:
    """Call the fork-join precompile with the queued sub-calls; 1 if it succeeded."""
    calls, computation.queued = _queue(computation), []  # type: ignore[attr-defined]
    if computation.msg.depth + 1 > STACK_DEPTH_LIMIT:
        computation.return_data = b""
        return 0
    left = computation.get_gas_remaining()
    child_gas = min(gas, left - left // 64)
    computation.consume_gas(child_gas, reason="SUBSOL join")
    message = JoinMessage(
        gas=child_gas,
        to=PARALLEL_ADDRESS,
        sender=computation.msg.storage_address,
        value=0,
        data=b"",
        code=b"",
        depth=computation.msg.depth + 1,
        is_static=computation.msg.is_static,
    )
    message.subcalls = calls
    child = computation.apply_child_computation(message)
    if not child.should_erase_return_data:
        written = min(ret_size, len(child.output))
        computation.memory_write(ret_offset, written, child.output[:written])
    if not child.should_burn_gas:
        computation.return_gas(child.get_gas_remaining())
    return 0 if child.is_error else 1


def _last(computation: ComputationAPI, name: str) -> list[SubCall]:
    queued = _queue(computation)
    if not queued:
        raise VMError(f"{name}: no sub-call is queued")
    return queued


def _after(name: str, operands: int) -> Callable[[ComputationAPI], None]:
    def after(computation: ComputationAPI) -> None:
        _charge(computation, name)
        tid = computation.stack_pop_ints(operands)[0]
        queued = _last(computation, name)
        last = queued[-1]
        if not 0 < tid < last.tid:
            raise VMError(f"{name}: thread {last.tid} can only wait for a lower thread id")
        queued[-1] = SubCall(last.tid, last.target, last.data, tid, last.discard)

    return after


def revertt(computation: ComputationAPI) -> None:
    """Make the queued thread ``tid`` end as if it had reverted."""
    _charge(computation, "REVERTT")
    tid = computation.stack_pop1_int()
    queued = _last(computation, "REVERTT")
    for i, call in enumerate(queued):
        if call.tid == tid:
            queued[i] = SubCall(call.tid, call.target, call.data, call.after, True)
            return
    raise VMError(f"REVERTT: thread {tid} is not queued")


def sleep(computation: ComputationAPI) -> None:
    """A hint to a scheduler; pavm's results and gas never depend on time."""
    _charge(computation, "SLEEP")
    computation.stack_pop_ints(2)


def _mark(name: str, value: int) -> Callable[[ComputationAPI], None]:
    def mark(computation: ComputationAPI) -> None:
        _charge(computation, name)
        label = computation.stack_pop1_int()
        db = getattr(computation.state, "recording_db", None)
        if db is not None:
            db.ops.append((OpKind.MARK, computation.msg.storage_address, label, value))

    return mark


def _alias(name: str, opcode: OpcodeAPI) -> Callable[[ComputationAPI], None]:
    def alias(computation: ComputationAPI) -> None:
        _charge(computation, name)
        opcode(computation)

    return alias


_LOGIC: dict[str, Callable[[ComputationAPI], None]] = {
    "SUBSOL": subsol,
    "SLEEP": sleep,
    "REVERTT": revertt,
    "AFTERW": _after("AFTERW", 2),
    "AFTERR": _after("AFTERR", 2),
    "AFTERA": _after("AFTERA", 1),
    "RR": _mark("RR", MARK_RR),
    "RPHASH": _mark("RPHASH", MARK_RPHASH),
    "RDR": _alias("RDR", _SLOAD),
    "WTR": _alias("WTR", _SSTORE),
}

OPCODES: dict[int, OpcodeAPI] = {
    BYTES[name]: Opcode.as_opcode(logic, name, 0) for name, logic in _LOGIC.items()
}
"""The instructions as py-evm opcodes (their gas is charged from the schedule)."""


def finish_frame(computation: Any) -> None:
    """What happens when a frame of the pavm fork ends: sub-calls still queued are
    joined if it succeeded, and a thread REVERTT named ends as if it had reverted."""
    if computation.is_success and computation.queued:
        join(computation, computation.get_gas_remaining(), 0, 0)
    if getattr(computation.msg, "discard", False) and computation.is_success:
        computation.error = Revert(computation.output)
