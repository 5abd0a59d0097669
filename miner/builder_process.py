"""The block builder in a process of its own (issue: sub-calls on idle cores, miner side).

The miner's main process serves JSON-RPC and broadcasts on several threads; building
a block there would hold the interpreter lock for the whole block, and a process
with threads is no place to start helpers from. So blocks are built in a spawned
process that reads the store, keeps the sub-call helpers (``miner/helpers.py``), and
sends back the sealed block with the trie nodes its state added; the main process
writes those nodes and the block in one store transaction, as before::

    miner main ── Build(parent header, ancestors, raw txs, timestamp) ─▶ builder
        ▲                                                  build_block(parent over
        │                                                  store reader + overlay)
        └── Built(block, outcomes, skipped, new trie nodes) ───┘

The builder has the miner's key (sent down the pipe at start, never on a command
line). The main process starts the builder and its helpers (a daemonic process may
not start children) and wires their pipes. A builder that dies fails the block being
built (the pool keeps its transactions); if any of them died, all are started again
before the next block.
"""

import contextlib
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB

from common.chain.block import Block, Header
from common.chain.execute import TxOutcome
from common.chain.state import ChainConfig, ChainState
from common.errors import PavmError
from common.store.kv import DiskHandle, LmdbDB, open_in_child
from miner.builder import BuiltBlock, SkippedTransaction, build_block
from miner.helpers import SubcallHelpers, helper_main, jobs

_SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class _Build:
    head: Header
    ancestors: tuple[bytes, ...]
    transactions: list[bytes]
    timestamp: int | None


@dataclass(frozen=True)
class _Built:
    """What the builder sends back: the block as :func:`build_block` made it (its
    outcomes without their operation lists) and the trie nodes its state added."""

    block: Block
    outcomes: tuple[TxOutcome, ...]
    skipped: tuple[SkippedTransaction, ...]
    rwset_bytes: int
    nodes: dict[bytes, bytes]
    lent: int
    """Sub-calls the helpers ran for this block."""


class _Overlay(BaseDB):
    """The store read through, new trie nodes kept aside for the main process."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.written: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.written.get(key)
        return value if value is not None else bytes(self.store[key])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.written[key] = bytes(value)

    def __delitem__(self, key: bytes) -> None:
        raise PavmError("the block builder never deletes from the store")

    def _exists(self, key: bytes) -> bool:
        return key in self.written or key in self.store


def builder_main(
    conn: Connection, handle: DiskHandle, config: ChainConfig, helpers: list[Connection]
) -> None:
    """Build what the main process asks for until told to stop."""
    key: bytes = conn.recv()
    store = open_in_child(handle)
    pool = SubcallHelpers(helpers)
    try:
        for job in jobs(conn):
            overlay = _Overlay(store)
            parent = ChainState(AtomicDB(overlay), config, job.head, job.ancestors)
            lent = pool.lent
            built = build_block(parent, job.transactions, key, job.timestamp, pool)
            outcomes = tuple(replace(o, ops=()) for o in built.outcomes)
            answer = _Built(
                built.block,
                outcomes,
                built.skipped,
                built.rwset_bytes,
                overlay.written,
                pool.lent - lent,
            )
            conn.send(answer)
    finally:
        pool.close()


class BuilderProcess:
    """The main process's end: :meth:`build` is :func:`build_block` run over there."""

    def __init__(self, db: LmdbDB, config: ChainConfig, key: bytes, helpers: int) -> None:
        self.db, self.config, self._key, self.helpers = db, config, key, helpers
        self.starts = 0
        self._start()

    def _start(self) -> None:
        handle = DiskHandle(self.db.path)
        ends = [_SPAWN.Pipe() for _ in range(self.helpers)]
        self._helpers = [
            _SPAWN.Process(
                target=helper_main, args=(helper_end, handle), name="pavm-subcalls", daemon=True
            )
            for _, helper_end in ends
        ]
        parent_end, child_end = _SPAWN.Pipe()
        self._process = _SPAWN.Process(
            target=builder_main,
            args=(child_end, handle, self.config, [builder_end for builder_end, _ in ends]),
            name="pavm-builder",
            daemon=True,
        )
        for process in (*self._helpers, self._process):
            process.start()
        for builder_end, helper_end in ends:
            builder_end.close()
            helper_end.close()
        child_end.close()
        parent_end.send(self._key)
        self._conn = parent_end
        self.starts += 1

    def _alive(self) -> bool:
        return all(p.is_alive() for p in (self._process, *self._helpers))

    def _stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)  # the builder tells the helpers
        self._conn.close()
        for process in (self._process, *self._helpers):
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(2)

    def build(
        self, parent: ChainState, transactions: Sequence[bytes], timestamp: int | None
    ) -> tuple[BuiltBlock, dict[bytes, bytes], int]:
        """(the block built on ``parent``, which must be in the store, with its state
        after the block over the main process's database; the trie nodes to write with
        it; sub-calls lent). ``PavmError`` if the builder died on the way."""
        if not self._alive():
            self._stop()
            self._start()
        try:
            self._conn.send(_Build(parent.head, parent.ancestors, list(transactions), timestamp))
            answer: _Built = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._process.join(1)
            raise PavmError(
                f"the block builder died (exit {self._process.exitcode}); it starts again "
                "for the next block"
            ) from None
        state = parent.advance(answer.block.header)
        built = BuiltBlock(answer.block, state, answer.outcomes, answer.skipped, answer.rwset_bytes)
        return built, answer.nodes, answer.lent

    def close(self) -> None:
        self._stop()
