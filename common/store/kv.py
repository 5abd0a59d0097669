"""The embedded on-disk key-value store: LMDB behind py-evm's database interface.

LMDB rather than LevelDB because a validator's worker processes read the state the
validator writes: LMDB allows one writer and many reader processes on the same
files, LevelDB allows one process. An LMDB environment must not cross a fork, so
workers over an on-disk store are started with ``spawn`` and open their own reader
(:class:`DiskHandle`). A block is written in one LMDB transaction, so a crash leaves
either the whole block or none of it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb
from eth.abc import AtomicWriteBatchAPI
from eth.db.backends.base import BaseAtomicDB, BaseDB

from common.errors import StoreCorrupted

MAP_SIZE = 1 << 40
"""Address space reserved for the store (sparse: disk is used only as data grows)."""


class _Batch(BaseDB, AtomicWriteBatchAPI):
    """Reads and writes inside one LMDB write transaction."""

    def __init__(self, txn: Any) -> None:
        self._txn = txn

    def __getitem__(self, key: bytes) -> bytes:
        value = self._txn.get(key)
        if value is None:
            raise KeyError(key)
        return bytes(value)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._txn.put(key, value)

    def __delitem__(self, key: bytes) -> None:
        if not self._txn.delete(key):
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self._txn.get(key) is not None


class LmdbDB(BaseAtomicDB):
    """A py-evm ``AtomicDatabaseAPI`` stored in an LMDB environment at ``path``."""

    def __init__(self, path: Path | str, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
        self._env = lmdb.open(
            str(self.path), map_size=MAP_SIZE, readonly=readonly, max_readers=512, lock=True
        )
        self._check_length()

    def _check_length(self) -> None:
        """Refuse a data file shorter than the pages its meta page counts: reading past
        the end of the mapping would kill the process with SIGBUS, silently."""
        data = self.path / "data.mdb"
        needed = (self._env.info()["last_pgno"] + 1) * self._env.stat()["psize"]
        size = data.stat().st_size
        if size < needed:
            self._env.close()
            raise StoreCorrupted(
                f"the store in {self.path} is truncated ({size} of {needed} bytes): restore "
                "it from a copy, or delete the folder to start the node afresh"
            )

    def __getitem__(self, key: bytes) -> bytes:
        with self._env.begin(buffers=False) as txn:
            value = txn.get(key)
        if value is None:
            raise KeyError(key)
        return bytes(value)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self._env.begin(write=True) as txn:
            txn.put(key, value)

    def __delitem__(self, key: bytes) -> None:
        with self._env.begin(write=True) as txn:
            if not txn.delete(key):
                raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        with self._env.begin() as txn:
            return txn.get(key) is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        """One write transaction: committed when the block exits, aborted on an exception."""
        with self._env.begin(write=True) as txn:
            yield _Batch(txn)

    def items_with_prefix(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in key order."""
        out = []
        with self._env.begin() as txn:
            cursor = txn.cursor()
            if cursor.set_range(prefix):
                for key, value in cursor:
                    if not key.startswith(prefix):
                        break
                    out.append((bytes(key), bytes(value)))
        return out

    def close(self) -> None:
        self._env.close()


@dataclass(frozen=True)
class DiskHandle:
    """What a spawned worker needs to open its own reader of an :class:`LmdbDB`."""

    path: Path

    def open(self) -> LmdbDB:
        return LmdbDB(self.path, readonly=True)


def handle_for_child(db: Any) -> Any:
    """What to hand a new worker: a picklable handle for an on-disk store, else the
    in-memory database itself (inherited through fork)."""
    return DiskHandle(db.path) if isinstance(db, LmdbDB) else db


def open_in_child(handle: Any) -> Any:
    """Inverse of :func:`handle_for_child`, run in the worker."""
    return handle.open() if isinstance(handle, DiskHandle) else handle
