"""The miner's transaction pool: full validation on entry, journaled before acknowledged.

A transaction enters only after the checks of :mod:`common.txcheck` against the head
state (with go-ethereum's messages) and after it is written to the store's journal,
so a hash returned to a client survives a restart (invariant 7, docs/architecture.md). Per sender,
transactions wait in nonce order; a transaction with the nonce of a waiting one
replaces it only when it pays at least 10 % more, as in go-ethereum.
"""

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth_hash.auto import keccak
from eth_typing import Address

from common.errors import InvalidTransaction
from common.state import ChainState
from common.store import ChainStore
from common.txcheck import check_nonce_and_funds, decode_checked

MAX_TX_SIZE = 131_072
MAX_POOL = 5_120
MAX_NONCE_AHEAD = 64
"""How far past an account's next nonce a transaction may wait (geth queues 64)."""
PRICE_BUMP = 10
"""Percent a replacement must add to both fee cap and tip."""


@dataclass(frozen=True)
class PoolTx:
    raw: bytes
    tx: SignedTransactionAPI
    hash: bytes
    sender: bytes
    arrival: int


class TxPool:
    """Pending transactions of one miner; every method is safe to call from any thread."""

    def __init__(
        self, store: ChainStore, state_lock: threading.RLock, head: Callable[[], ChainState]
    ) -> None:
        self.store = store
        self.state_lock = state_lock
        self.head = head
        self.chain_id = store.config().chain_id
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, PoolTx] = {}
        self._by_sender: dict[bytes, dict[int, PoolTx]] = {}
        self._arrivals = itertools.count()

    def __len__(self) -> int:
        return len(self._by_hash)

    def _account(self, sender: bytes) -> tuple[int, int]:
        """(nonce, balance) of ``sender`` at the head."""
        with self.state_lock:
            accounts = self.head().account_db()
            return accounts.get_nonce(Address(sender)), accounts.get_balance(Address(sender))

    def add(self, raw: bytes) -> bytes:
        """Validate, journal and queue ``raw``; returns its hash or raises InvalidTransaction."""
        if len(raw) > MAX_TX_SIZE:
            raise InvalidTransaction(
                f"oversized data: transaction size {len(raw)}, limit {MAX_TX_SIZE}"
            )
        tx = decode_checked(raw, self.chain_id)
        tx_hash = bytes(keccak(raw))
        sender = bytes(tx.sender)
        nonce, balance = self._account(sender)
        with self._lock:
            if tx_hash in self._by_hash or self.store.transaction_location(tx_hash):
                raise InvalidTransaction("already known")
            check_nonce_and_funds(tx, nonce, balance, MAX_NONCE_AHEAD)
            queued = self._by_sender.get(sender, {})
            old = queued.get(tx.nonce)
            if old is not None and not _outbids(tx, old.tx):
                raise InvalidTransaction("replacement transaction underpriced")
            if old is None and len(self._by_hash) >= MAX_POOL:
                raise InvalidTransaction("txpool is full")
            entry = PoolTx(raw, tx, tx_hash, sender, next(self._arrivals))
            # Journal first: the hash goes back to the client only once it is on disk.
            self.store.journal_transaction(tx_hash, raw)
            if old is not None:
                self._drop(old)
                with self.store.db.atomic_batch() as batch:
                    self.store.forget_transactions(batch, [old.hash])
            self._by_hash[tx_hash] = entry
            self._by_sender.setdefault(sender, {})[tx.nonce] = entry
        return tx_hash

    def _drop(self, entry: PoolTx) -> None:
        self._by_hash.pop(entry.hash, None)
        queued = self._by_sender.get(entry.sender)
        if queued is not None and queued.get(entry.tx.nonce) is entry:
            del queued[entry.tx.nonce]
            if not queued:
                del self._by_sender[entry.sender]

    def get(self, tx_hash: bytes) -> bytes | None:
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.raw

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int:
        """Next nonce for ``sender`` counting its waiting transactions."""
        with self._lock:
            queued = self._by_sender.get(sender, {})
            nonce = state_nonce
            while nonce in queued:
                nonce += 1
            return nonce

    def executable(self, limit: int, nonces: dict[bytes, int]) -> list[PoolTx]:
        """Up to ``limit`` transactions runnable now, oldest first, each sender in nonce
        order from its next nonce (``nonces`` maps sender to it)."""
        with self._lock:
            heap: list[tuple[int, bytes, int]] = []
            for sender, queued in self._by_sender.items():
                nonce = nonces.get(sender, 0)
                if nonce in queued:
                    heap.append((queued[nonce].arrival, sender, nonce))
            heapq.heapify(heap)
            chosen: list[PoolTx] = []
            while heap and len(chosen) < limit:
                _, sender, nonce = heapq.heappop(heap)
                queued = self._by_sender[sender]
                chosen.append(queued[nonce])
                if nonce + 1 in queued:
                    heapq.heappush(heap, (queued[nonce + 1].arrival, sender, nonce + 1))
            return chosen

    def senders(self) -> list[bytes]:
        with self._lock:
            return list(self._by_sender)

    def remove(self, tx_hashes: list[bytes]) -> None:
        """Drop these transactions (mined or skipped by the miner)."""
        with self._lock:
            for tx_hash in tx_hashes:
                entry = self._by_hash.get(tx_hash)
                if entry is not None:
                    self._drop(entry)

    def remove_settled(self, nonces: dict[bytes, int]) -> list[bytes]:
        """Drop transactions whose nonce is below their sender's new nonce; their hashes."""
        with self._lock:
            gone = [
                entry
                for sender, next_nonce in nonces.items()
                for nonce, entry in self._by_sender.get(sender, {}).items()
                if nonce < next_nonce
            ]
            for entry in gone:
                self._drop(entry)
            return [entry.hash for entry in gone]

    def restore(self) -> int:
        """Reload the journal after a restart; transactions no longer valid are dropped."""
        restored = 0
        stale = []
        for raw in self.store.journaled_transactions():
            try:
                self.add_journaled(raw)
                restored += 1
            except InvalidTransaction:
                stale.append(bytes(keccak(raw)))
        if stale:
            with self.store.db.atomic_batch() as batch:
                self.store.forget_transactions(batch, stale)
        return restored

    def add_journaled(self, raw: bytes) -> None:
        """Queue a transaction read back from the journal (it is already on disk)."""
        tx = decode_checked(raw, self.chain_id)
        tx_hash = bytes(keccak(raw))
        sender = bytes(tx.sender)
        nonce, _ = self._account(sender)
        if tx.nonce < nonce or self.store.transaction_location(tx_hash):
            raise InvalidTransaction("already mined")
        with self._lock:
            entry = PoolTx(raw, tx, tx_hash, sender, next(self._arrivals))
            old = self._by_sender.get(sender, {}).get(tx.nonce)
            if old is not None and not _outbids(tx, old.tx):
                raise InvalidTransaction("replaced")
            if old is not None:
                self._drop(old)
            self._by_hash[tx_hash] = entry
            self._by_sender.setdefault(sender, {})[tx.nonce] = entry


def _outbids(new: SignedTransactionAPI, old: SignedTransactionAPI) -> bool:
    bump = 100 + PRICE_BUMP
    return (
        new.max_fee_per_gas * 100 >= old.max_fee_per_gas * bump
        and new.max_priority_fee_per_gas * 100 >= old.max_priority_fee_per_gas * bump
    )
