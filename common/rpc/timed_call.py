"""The EVM that answers ``eth_call``, ``eth_estimateGas``, the tracers and operation
receipts: py-evm's own, with a deadline (go-ethereum's ``--rpc.evmtimeout``, 5 s by
default) and a hook through which the opcode logger sees every step (:func:`observed`).

Gas alone does not bound a call's time: 50M gas of a tight loop runs for many seconds
in py-evm. Every opcode of this EVM first checks the deadline of the call it runs in
and aborts it with :class:`CallTimeout` once it has passed. Only calls and replays use
it; the miner and the validators execute blocks on the unchanged engine
(``common/evm/forks.py``), whose time the block's gas limit bounds.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from eth.vm.forks.prague.state import PragueState
from eth_typing import Hash32

from common.errors import PavmError
from common.evm.forks import FORKS, BlockEnv, Fork

CALL_TIMEOUT = 5.0
"""Seconds one call (or one whole gas estimate) may run."""

_deadline: ContextVar[float] = ContextVar("pavm_call_deadline", default=float("inf"))


class StepObserver(Protocol):
    """Runs each opcode itself, seeing the computation before and after (a tracer)."""

    def step(self, opcode: Any, computation: Any) -> None: ...


_observer: ContextVar[StepObserver | None] = ContextVar("pavm_step_observer", default=None)


class CallTimeout(PavmError):
    """Thrown out of the EVM when a call runs past its deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"execution aborted (timeout = {seconds:g}s)")


@contextmanager
def deadline(seconds: float = CALL_TIMEOUT) -> Iterator[None]:
    """Calls made inside this block are aborted ``seconds`` after it was entered."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class _Timed:
    """An opcode that first checks the current call's deadline."""

    __slots__ = ("__wrapped__",)

    def __init__(self, opcode: Any) -> None:
        self.__wrapped__ = opcode

    def __call__(self, computation: Any) -> None:
        if time.monotonic() > _deadline.get():
            raise CallTimeout(CALL_TIMEOUT)
        observer = _observer.get()
        if observer is None:
            self.__wrapped__(computation=computation)
        else:
            observer.step(self.__wrapped__, computation)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped__, name)


def _timed(fork: Fork) -> tuple[Any, Any]:
    """``fork``'s plain Prague state and its recording state, both with a computation
    whose every opcode honours :func:`deadline`."""
    computation = fork.computation.configure(
        __name__=f"Timed{fork.computation.__name__}",
        opcodes={op: _Timed(fn) for op, fn in fork.computation.opcodes.items()},
    )
    plain = PragueState.configure(__name__="TimedState", computation_class=computation)
    recording = fork.recording.configure(
        __name__=f"Timed{fork.recording.__name__}", computation_class=computation
    )
    return plain, recording


_TIMED = {name: _timed(fork) for name, fork in FORKS.items()}


@contextmanager
def observed(observer: StepObserver) -> Iterator[None]:
    """Opcodes run inside this block go through ``observer.step``."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def timed_state(env: BlockEnv, db: Any, state_root: bytes) -> Any:
    """py-evm's Prague state with the computation of ``env``'s fork, every opcode of
    which honours :func:`deadline` (sub-calls run in their serial definition)."""
    return _TIMED[env.fork][0](db, env.execution_context(), Hash32(state_root))


def timed_recording_state(env: BlockEnv, db: Any, state_root: bytes) -> Any:
    """The recording state of ``env``'s fork, as the miner and validators execute on,
    but every opcode honouring :func:`deadline`: what replays a mined transaction's
    operations for a caller without letting it run unbounded (invariant 9,
    docs/architecture.md)."""
    return _TIMED[env.fork][1](db, env.execution_context(), Hash32(state_root))
