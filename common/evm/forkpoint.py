"""A fork point that travels: what another process needs to speculate sub-calls
exactly where a transaction called the fork-join precompile.

The process running the transaction captures the fork point (:func:`capture`): the
surviving writes of the transactions that ran before it on its replica since the
replicas last agreed, its own writes so far, its transient storage and warm sets,
and what the calls' frames inherit (origin, gas price, caller, depth, static-ness,
contracts created). A process whose replica is at the same base state rebuilds
exactly that state (:func:`speculate_at`), runs the calls from it with the recorder
on, returns their :class:`~common.evm.forkjoin.Effects` and undoes everything but the
earlier transactions' writes, which its replica will receive anyway when the block's
diff is applied.
"""

from dataclasses import dataclass
from typing import Any

from eth.abc import ComputationAPI
from eth.vm.message import Message
from eth_typing import Address

from common.evm.forkjoin import (
    Effects,
    mark_warm,
    replay_write,
    speculate_here,
    still_warm,
    transient_values,
)
from common.evm.forks import BlockEnv, PavmState
from common.evm.recording import Op, RecordingAccountDB
from common.evm.subcalls import PARALLEL_ADDRESS, SubCall


@dataclass(frozen=True)
class ForkPoint:
    env: BlockEnv
    earlier: list[Op]
    """Surviving writes of the transactions run before this one since the base."""
    current: list[Op]
    """This transaction's surviving writes up to the fork."""
    transient: list[tuple[bytes, int, bytes]]
    warm: list[tuple[bytes, int | None]]
    origin: bytes
    gas_price: int
    sender: bytes
    """The precompile's caller: every sub-call's sender."""
    depth: int
    is_static: bool
    created: list[bytes]


@dataclass(frozen=True, slots=True)
class Speculate:
    """Sub-calls to speculate from a fork point, sent to another process."""

    fork: ForkPoint
    calls: list[SubCall]
    allowance: int


@dataclass(frozen=True, slots=True)
class Speculated:
    """Effects of speculated calls, by thread id (a call missing here: a helper died,
    and the asker runs it when joining)."""

    effects: dict[int, Effects]
    cpu_seconds: float = 0.0
    """What speculating them cost the helper."""


def deal(calls: list[SubCall], hands: int) -> list[list[SubCall]]:
    """``calls`` shared round robin between ``hands`` processes (the asker first)."""
    shares: list[list[SubCall]] = [[] for _ in range(hands)]
    for i, call in enumerate(calls):
        shares[i % hands].append(call)
    return shares


def capture(computation: ComputationAPI, env: BlockEnv, earlier: list[Op]) -> ForkPoint:
    """The fork point of the precompile ``computation`` (after it charged its gas)."""
    state: Any = computation.state
    db: RecordingAccountDB = state.recording_db
    context: Any = computation.transaction_context
    return ForkPoint(
        env=env,
        earlier=list(earlier),
        current=list(db.writes),
        transient=transient_values(state, db.ops),
        warm=still_warm(db, db.ops),
        origin=bytes(context.origin),
        gas_price=context.gas_price,
        sender=bytes(computation.msg.sender),
        depth=computation.msg.depth,
        is_static=computation.msg.is_static,
        created=[bytes(a) for a in computation.contracts_created],
    )


def speculate_at(
    fork: ForkPoint, raw_db: Any, replica: RecordingAccountDB, calls: list[SubCall], allowance: int
) -> dict[int, Effects]:
    """Rebuild ``fork`` on ``replica`` (over ``raw_db``), speculate ``calls`` there and
    undo all but ``fork.earlier``."""
    for kind, address, slot, value in fork.earlier:
        replay_write(replica, kind, Address(address), slot, value)
    replica.lock_changes()  # what the transaction found: its "original" storage values
    state: Any = PavmState(raw_db, fork.env.execution_context(), replica.state_root)
    state.use_account_db(replica)
    replica.begin_transaction()
    replica.begin_group()
    snapshot = state.snapshot()
    for kind, address, slot, value in fork.current:
        replay_write(replica, kind, Address(address), slot, value)
    for address, slot, value in fork.transient:
        state.transient_storage.set_transient_storage(Address(address), slot, value)
    mark_warm(replica, fork.warm)
    context = state.get_transaction_context_class()(fork.gas_price, Address(fork.origin))
    message = Message(
        gas=0,
        to=PARALLEL_ADDRESS,
        sender=Address(fork.sender),
        value=0,
        data=b"",
        code=b"",
        depth=fork.depth,
        is_static=fork.is_static,
    )
    computation = state.get_computation(message, context)
    computation.contracts_created = [Address(a) for a in fork.created]
    try:
        return speculate_here(computation, calls, allowance)
    finally:
        state.revert(snapshot)
        state.transient_storage.clear()
        replica.begin_transaction()
