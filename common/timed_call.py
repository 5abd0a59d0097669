"""The EVM that answers ``eth_call``, ``eth_estimateGas`` and the tracers: py-evm's
own, with a deadline (go-ethereum's ``--rpc.evmtimeout``, 5 s by default) and a hook
through which the opcode logger sees every step (:func:`observed`).

Gas alone does not bound a call's time: 50M gas of a tight loop runs for many seconds
in py-evm. Every opcode of this EVM first checks the deadline of the call it runs in
and aborts it with :class:`CallTimeout` once it has passed. Only calls use it; the
miner and the validators execute blocks on the unchanged engine (``common/evm.py``).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from eth.vm.forks.prague.state import PragueState
from eth_typing import Hash32

from common.errors import PavmError
from common.evm import FORKS, BlockEnv, Fork

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


def _timed(fork: Fork) -> Any:
    computation = fork.computation.configure(
        __name__=f"Timed{fork.computation.__name__}",
        opcodes={op: _Timed(fn) for op, fn in fork.computation.opcodes.items()},
    )
    return PragueState.configure(__name__="TimedState", computation_class=computation)


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
    return _TIMED[env.fork](db, env.execution_context(), Hash32(state_root))
