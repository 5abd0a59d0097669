"""Polled filters: ``eth_newFilter``, ``eth_newBlockFilter``,
``eth_newPendingTransactionFilter``, ``eth_getFilterChanges``, ``eth_getFilterLogs``,
``eth_uninstallFilter`` (web3.py's filter API).

A filter remembers the last block it reported; changes are computed from the store
when polled, so the node keeps nothing per block for it. Pending-transaction
filters collect hashes as the pool accepts them, at most ``MAX_PENDING`` each. As in
go-ethereum a filter not polled for ``FILTER_TIMEOUT`` seconds is removed, and an
unknown id is -32000 "filter not found". At most ``MAX_FILTERS`` exist at once, so
strangers cannot fill memory with them, and at most ``MAX_FILTERS_PER_CLIENT`` of
them belong to one client, so one client cannot take them all (invariant 9,
docs/architecture.md).
"""

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.rpc.dispatch import client_address
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.hexcodec import to_data
from common.rpc.logs import MAX_LOG_RANGE, LogCriteria, block_range, log_criteria, scan
from common.rpc.namespace import Namespace, method
from common.rpc.params import Raw
from common.store.chain import ChainStore

FILTER_TIMEOUT = 300.0
"""Seconds an unpolled filter lives (go-ethereum's five minutes)."""
MAX_FILTERS = 1_000
"""Filters installed at once, over all clients."""
MAX_FILTERS_PER_CLIENT = 100
"""Filters one client (``common.net.clients.client_key``) may have installed at once."""
MAX_PENDING = 10_000
"""Pending-transaction hashes one filter holds between polls; older ones are dropped."""
MAX_ID_LENGTH = 66


@dataclass
class _Filter:
    kind: str
    """"logs", "blocks" or "pending"."""
    last_block: int
    """The highest block already reported (or before the filter's start)."""
    criteria: LogCriteria | None = None
    pending: deque[bytes] = field(default_factory=lambda: deque(maxlen=MAX_PENDING))
    polled: float = field(default_factory=time.monotonic)
    client: str | None = None
    """Who installed it (``None`` in process): counted against that client's cap."""


class Filters(Namespace):
    """The filters installed on one node, safe to use from any server thread."""

    def __init__(
        self, store: ChainStore, resolve: Callable[[int | str], int], pending: bool
    ) -> None:
        self.store = store
        self.resolve = resolve
        self.offers_pending = pending
        self._filters: dict[str, _Filter] = {}
        self._lock = threading.Lock()

    def transaction_added(self, tx_hash: bytes) -> None:
        """The pool accepted ``tx_hash``: pending filters see it at their next poll."""
        with self._lock:
            for entry in self._filters.values():
                if entry.kind == "pending":
                    entry.pending.append(tx_hash)

    def _expire(self) -> None:
        cutoff = time.monotonic() - FILTER_TIMEOUT
        for key in [k for k, f in self._filters.items() if f.polled < cutoff]:
            del self._filters[key]

    def _add(self, entry: _Filter) -> str:
        entry.client = client_address.get()
        with self._lock:
            self._expire()
            if entry.client is not None and self._count(entry.client) >= MAX_FILTERS_PER_CLIENT:
                raise RpcError(
                    SERVER_ERROR,
                    f"too many filters from {entry.client}: at most {MAX_FILTERS_PER_CLIENT}",
                )
            if len(self._filters) >= MAX_FILTERS:
                raise RpcError(SERVER_ERROR, f"too many filters: at most {MAX_FILTERS}")
            key = hex(secrets.randbits(128) | 1 << 127)  # a quantity, as the spec types it
            self._filters[key] = entry
        return key

    def _count(self, client: str) -> int:
        return sum(1 for f in self._filters.values() if f.client == client)

    @method("eth_newBlockFilter")
    def new_block_filter(self) -> str:
        return self._add(_Filter("blocks", self.store.head_number()))

    @method("eth_newPendingTransactionFilter", when=lambda filters: filters.offers_pending)
    def new_pending_filter(self) -> str:
        return self._add(_Filter("pending", self.store.head_number()))

    @method("eth_newFilter")
    def new_filter(self, query: Raw) -> str:
        criteria = log_criteria(query)
        if criteria.block_hash is not None:
            raise invalid_params("a filter cannot name a block hash; use eth_getLogs")
        start, end = criteria.from_block, criteria.to_block
        if start != "latest" and end != "latest" and self.resolve(start) > self.resolve(end):
            raise invalid_params("invalid block range params")
        before = self.store.head_number() if start == "latest" else self.resolve(start) - 1
        return self._add(_Filter("logs", max(before, -1), criteria))

    def _get(self, key: Any) -> _Filter:
        if not isinstance(key, str) or len(key) > MAX_ID_LENGTH:
            raise invalid_params("invalid argument 0: filter id expected")
        with self._lock:
            entry = self._filters.get(key.lower())
            if entry is None:
                raise RpcError(SERVER_ERROR, "filter not found")
            entry.polled = time.monotonic()
            return entry

    @method("eth_getFilterChanges")
    def changes(self, key: Raw) -> list[Any]:
        """What happened since the last poll: block hashes, transaction hashes or logs."""
        entry = self._get(key)
        if entry.kind == "pending":
            with self._lock:
                hashes = [to_data(h) for h in entry.pending]
                entry.pending.clear()
            return hashes
        head = self.store.head_number()
        first, last = entry.last_block + 1, head
        if entry.kind == "logs":
            assert entry.criteria is not None
            if entry.criteria.to_block != "latest":
                last = min(last, self.resolve(entry.criteria.to_block))
            last = min(last, first + MAX_LOG_RANGE - 1)
        if first > last:
            return []
        if entry.kind == "blocks":
            found: list[Any] = []
            for number in range(first, last + 1):
                block = self.store.block(number)
                if block is not None:
                    found.append(to_data(block.hash))
        else:
            assert entry.criteria is not None
            found = scan(self.store, entry.criteria, first, last)
        entry.last_block = last
        return found

    @method("eth_getFilterLogs")
    def filter_logs(self, key: Raw) -> list[Any]:
        """Every log the filter's criteria match, from its fromBlock to its toBlock."""
        entry = self._get(key)
        if entry.kind != "logs" or entry.criteria is None:
            raise RpcError(SERVER_ERROR, "filter not found")
        first, last = block_range(entry.criteria, self.store, self.resolve)
        return scan(self.store, entry.criteria, first, last)

    @method("eth_uninstallFilter")
    def uninstall(self, key: Raw) -> bool:
        if not isinstance(key, str) or len(key) > MAX_ID_LENGTH:
            raise invalid_params("invalid argument 0: filter id expected")
        with self._lock:
            return self._filters.pop(key.lower(), None) is not None
