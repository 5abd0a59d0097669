"""Helper processes that speculate a block's sub-calls while the builder runs its
transaction (paper section III, intra-contract parallelism on the miner).

The miner executes a block one transaction at a time, so while one transaction is in
a fork-join every other core is idle. The builder process keeps ``n`` helpers (one
per core it does not use itself); at a fork-join it deals the calls round robin
between itself and them, each helper rebuilds the fork point on its own replica of
the parent state and sends the calls' effects back, and the builder joins everything
in thread-id order (``common/evm/forkjoin.py``): the result is the serial definition's
whichever process ran what. A helper that dies leaves its calls to the join; the
miner starts the builder and its helpers again before the next block. With no helper
the calls run serially, as they would anyway.

    builder ── (parent root, Speculate) ─▶ helper i: replica at that root, replay the
       ▲                                    block's earlier writes, speculate
       └──────────── Speculated ──────────┘
"""

from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from common.evm.forkjoin import Effects, SpeculateFn, speculate_here
from common.evm.forkpoint import Speculate, Speculated, capture, deal, speculate_at
from common.evm.forks import BlockEnv
from common.evm.recording import Op, RecordingAccountDB
from common.evm.subcalls import SubCall
from common.store.kv import DiskHandle, open_in_child


def jobs(conn: Connection) -> Iterator[Any]:
    """What the other end sends, until it says stop (``None``) or goes away."""
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        yield job


def helper_main(conn: Connection, handle: DiskHandle) -> None:
    """Speculate what the builder sends until told to stop: a replica per parent root,
    kept while blocks on that parent ask (their earlier writes are replayed each time,
    absolute values, so replaying again is harmless)."""
    db = open_in_child(handle)
    root, replica = b"", None
    for base, request in jobs(conn):
        if replica is None or base != root:
            root, replica = base, RecordingAccountDB(db, base)
        effects = speculate_at(request.fork, db, replica, request.calls, request.allowance)
        conn.send(Speculated(effects))


class SubcallHelpers:
    """The builder's ends of the pipes to its helper processes (which the miner's main
    process starts and watches: a daemonic builder may not have children)."""

    def __init__(self, conns: list[Connection]) -> None:
        self._helpers = conns
        self.lent = 0
        """Sub-calls helpers ran, over the pool's life."""

    def __len__(self) -> int:
        return len(self._helpers)

    def speculator(self, env: BlockEnv, root: bytes, earlier: list[Op]) -> SpeculateFn:
        """How the block on the parent at ``root`` speculates: ``earlier`` is the list
        of surviving writes of its transactions so far, which the builder extends.

        Only the outermost fork-join deals calls out: a nested one runs where it is,
        so each helper has at most one request at a time."""
        asking = False

        def speculate(computation: Any, calls: list[SubCall], allowance: int) -> dict[int, Effects]:
            nonlocal asking
            if asking or not self._helpers:
                return speculate_here(computation, calls, allowance)
            asking = True
            try:
                hands = deal(calls, len(self._helpers) + 1)
                fork = capture(computation, env, earlier)
                sent = []
                for conn, share in zip(self._helpers, hands[1:], strict=False):
                    if share and _send(conn, (root, Speculate(fork, share, allowance))):
                        sent.append(conn)
                        self.lent += len(share)
                effects = speculate_here(computation, hands[0], allowance)
                for conn in sent:
                    effects.update(_receive(conn))
                return effects
            finally:
                asking = False

        return speculate

    def close(self) -> None:
        """Tell every helper to stop."""
        for conn in self._helpers:
            _send(conn, None)
            conn.close()
        self._helpers = []


def _send(conn: Connection, message: object) -> bool:
    try:
        conn.send(message)
        return True
    except (BrokenPipeError, OSError):
        return False


def _receive(conn: Connection) -> dict[int, Effects]:
    """A helper's effects; none if it died (the join runs its calls)."""
    try:
        answer: Speculated = conn.recv()
        return answer.effects
    except (EOFError, OSError):
        return {}
