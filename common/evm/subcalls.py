"""Sub-calls: what one transaction asks to run on several cores, and what it gets back.

A transaction starts a set of sub-calls (the paper's threads, section III) through
the fork-join precompile at :data:`PARALLEL_ADDRESS`; each is a message call from the
precompile's caller to ``target`` with ``data``, named by a thread id. The result of
the set is *defined* serially: the calls run one after another in thread-id order,
each on the state the previous ones left (``common/evm/forkjoin.py`` holds that
definition and the parallel runs that must give the same answer; invariant 8,
docs/architecture.md).

The precompile's input and output are ABI-encoded, so ``raw_call`` from Vyper or
Solidity reaches it without new compiler support::

    input   ((address target, bytes data, uint256 tid, uint256 after)[])
    output  ((bool success, bytes returndata)[])      one entry per call, by tid

``after`` is 0 or the thread id of a lower-numbered call that this one must see
finished (the paper's AFTERA): a scheduling constraint, never a change of result.
"""

from dataclasses import dataclass

from eth.vm.message import Message
from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_typing import Address

PARALLEL_ADDRESS = Address(bytes(18) + b"\x01\x00")
"""The fork-join precompile (0x…0100: above every precompile Ethereum has defined)."""
MAX_SUBCALLS = 256
"""Sub-calls one precompile call may start."""
MAX_TID = 2**32 - 1
"""Thread ids are 1 to this."""

_INPUT = ("(address,bytes,uint256,uint256)[]",)
_OUTPUT = ("(bool,bytes)[]",)


class BadSubcalls(ValueError):
    """Thrown when the precompile's input is not a valid set of sub-calls."""


@dataclass(frozen=True, slots=True)
class SubCall:
    tid: int
    target: Address
    data: bytes
    after: int = 0
    """0, or the lower thread id this call runs after (on the state it left)."""
    discard: bool = False
    """The call ends as if it had reverted (the REVERTT instruction; not in the ABI)."""


@dataclass(frozen=True, slots=True)
class SubResult:
    success: bool
    output: bytes


class JoinMessage(Message):
    """A join's call to the fork-join precompile: carries the queued sub-calls, which
    hold what the precompile's ABI cannot say (REVERTT), instead of ABI input."""

    subcalls: list[SubCall]


class SubCallMessage(Message):
    """A sub-call's message; ``discard`` when REVERTT named its thread."""

    discard: bool = False


def decode_calls(data: bytes) -> list[SubCall]:
    """The sub-calls in the precompile's ``data``, in thread-id order; ``BadSubcalls``
    naming what is wrong (the precompile then fails and burns its gas)."""
    try:
        (rows,) = decode(_INPUT, data, strict=True)
    except (DecodingError, OverflowError, ValueError) as exc:
        raise BadSubcalls(f"input is not ABI ((address,bytes,uint256,uint256)[]): {exc}") from None
    return check_calls(
        [
            SubCall(tid, Address(bytes.fromhex(target[2:])), data, after)
            for target, data, tid, after in rows
        ]
    )


def check_calls(given: list[SubCall]) -> list[SubCall]:
    """``given`` in thread-id order, or ``BadSubcalls`` if it is not a valid set (the
    same rules for the precompile's input and the SUBSOL instruction's queue)."""
    if not 1 <= len(given) <= MAX_SUBCALLS:
        raise BadSubcalls(f"between 1 and {MAX_SUBCALLS} sub-calls, got {len(given)}")
    calls = sorted(given, key=lambda c: c.tid)
    seen: set[int] = set()
    for call in calls:
        if not 1 <= call.tid <= MAX_TID or call.tid in seen:
            raise BadSubcalls(f"thread ids must be distinct, 1 to {MAX_TID}: {call.tid}")
        if call.after and call.after not in seen:
            raise BadSubcalls(f"thread {call.tid} runs after {call.after}, a lower thread id")
        seen.add(call.tid)
    return calls


def encode_results(results: list[SubResult]) -> bytes:
    """The precompile's output: one ``(success, returndata)`` per call, by thread id."""
    return encode(_OUTPUT, [[(r.success, r.output) for r in results]])


def encode_calls(calls: list[SubCall]) -> bytes:
    """The precompile input for ``calls`` (what a contract's ``abi_encode`` produces)."""
    rows = [(c.target, c.data, c.tid, c.after) for c in calls]
    return encode(_INPUT, [rows])


def decode_results(data: bytes) -> list[SubResult]:
    """Parse the precompile's output (for callers outside the EVM: tests, tools)."""
    (rows,) = decode(_OUTPUT, data)
    return [SubResult(success, output) for success, output in rows]
