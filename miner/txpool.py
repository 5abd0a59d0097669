"""The miner's transaction pool: full validation on entry, journaled before acknowledged.

A transaction enters only after the checks of :mod:`common.chain.txcheck` against the head
state (with go-ethereum's messages) and after it is written to the store's journal,
so a hash returned to a client survives a restart (invariant 7, docs/architecture.md). Per sender,
transactions wait in nonce order; a transaction with the nonce of a waiting one
replaces it only when it pays at least 10 % more, as in go-ethereum. The sender's
balance must cover all its waiting transactions together; a full pool makes room for
one that can run by evicting one behind a nonce gap, else only for a higher tip, by
evicting the lowest; whatever waits longer than ``LIFETIME`` (say, behind a nonce gap
never filled) leaves.
Evicted and expired transactions are the only acknowledged ones the pool lets go.
"""

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth_hash.auto import keccak
from eth_typing import Address

from common.chain.state import ChainState
from common.chain.txcheck import check_nonce_and_funds, decode_checked
from common.errors import InvalidTransaction
from common.store.chain import ChainStore

MAX_TX_SIZE = 131_072
MAX_POOL = 5_120
"""Transactions waiting at most (go-ethereum's 4,096 executable + 1,024 queued)."""
MAX_QUEUED = 1_024
"""Of those, transactions behind a nonce gap at most (go-ethereum's globalqueue)."""
MAX_NONCE_AHEAD = 64
"""How far past an account's next nonce a transaction may wait (geth queues 64)."""
LIFETIME = 3 * 3600.0
"""Seconds a transaction may wait without being mined (go-ethereum's queued lifetime):
one behind a nonce gap that is never filled leaves then."""
PRICE_BUMP = 10
"""Percent a replacement must add to both fee cap and tip."""


@dataclass(frozen=True)
class PoolTx:
    raw: bytes
    tx: SignedTransactionAPI
    hash: bytes
    sender: bytes
    arrival: int
    since: float
    """``time.monotonic()`` when it entered the pool (a restart starts its clock again)."""

    @property
    def cost(self) -> int:
        """The most it can take from its sender: gas at the fee cap, plus value."""
        return int(self.tx.gas * self.tx.max_fee_per_gas + self.tx.value)


class TxPool:
    """Pending transactions of one miner; every method is safe to call from any thread."""

    def __init__(
        self,
        store: ChainStore,
        state_lock: threading.RLock,
        head: Callable[[], ChainState],
        max_pool: int = MAX_POOL,
        lifetime: float = LIFETIME,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.max_pool = max_pool
        self.max_queued = max_queued
        self.lifetime = lifetime
        self.store = store
        self.state_lock = state_lock
        self.head = head
        self.chain_id = store.config().chain_id
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, PoolTx] = {}
        self._by_sender: dict[bytes, dict[int, PoolTx]] = {}
        self._base: dict[bytes, int] = {}
        """Each sender's account nonce as last seen (on entry, or after a block)."""
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
            entry = PoolTx(raw, tx, tx_hash, sender, next(self._arrivals), time.monotonic())
            _check_queued_cost(entry, queued, nonce, balance)
            self._base[sender] = nonce
            outbid = [old] if old is not None else self._evict_for(entry)
            self._base[sender] = nonce  # eviction may have emptied this sender's queue
            # Journal first: the hash goes back to the client only once it is on disk.
            self.store.journal_transaction(tx_hash, raw)
            if outbid:
                for gone in outbid:
                    self._drop(gone)
                with self.store.db.atomic_batch() as batch:
                    self.store.forget_transactions(batch, [gone.hash for gone in outbid])
            self._by_hash[tx_hash] = entry
            self._by_sender.setdefault(sender, {})[tx.nonce] = entry
        return tx_hash

    def _evict_for(self, entry: PoolTx) -> list[PoolTx]:
        """What must leave so ``entry`` fits: nothing while there is room (at most
        ``max_queued`` of all waiting behind a nonce gap). When full, a transaction that
        can run never waits behind ones that cannot: the gapped one with the lowest tip
        leaves. Else the one with the lowest tip (among the gapped ones, for a gapped
        ``entry``) leaves if ``entry`` pays more (the newest of equals); else ``txpool
        is full``."""
        runnable = entry.tx.nonce <= self._run_end(entry.sender)
        if runnable and len(self._by_hash) < self.max_pool:
            return []
        gapped = [e for sender in self._by_sender for e in self._behind_gap(sender)]
        if not runnable and len(gapped) < self.max_queued and len(self._by_hash) < self.max_pool:
            return []
        if runnable and gapped:
            return [min(gapped, key=_cheapness)]
        if not runnable and not gapped:
            raise InvalidTransaction("txpool is full")  # full of runnable ones
        cheapest = min(self._by_hash.values() if runnable else gapped, key=_cheapness)
        if cheapest.tx.max_priority_fee_per_gas >= entry.tx.max_priority_fee_per_gas:
            raise InvalidTransaction("txpool is full")
        return [cheapest]

    def _run_end(self, sender: bytes) -> int:
        """The nonce after the sender's run of waiting transactions that starts at its
        account nonce (as last seen)."""
        queued = self._by_sender.get(sender, {})
        nonce = self._base.get(sender, 0)
        while nonce in queued:
            nonce += 1
        return nonce

    def _behind_gap(self, sender: bytes) -> list[PoolTx]:
        end = self._run_end(sender)
        return [e for n, e in self._by_sender.get(sender, {}).items() if n > end]

    def expire(self) -> list[bytes]:
        """Drop (and forget) transactions that waited longer than the pool's lifetime;
        their hashes."""
        deadline = time.monotonic() - self.lifetime
        with self._lock:
            old = [e for e in self._by_hash.values() if e.since < deadline]
            for entry in old:
                self._drop(entry)
        if old:
            with self.store.db.atomic_batch() as batch:
                self.store.forget_transactions(batch, [e.hash for e in old])
        return [e.hash for e in old]

    def _drop(self, entry: PoolTx) -> None:
        self._by_hash.pop(entry.hash, None)
        queued = self._by_sender.get(entry.sender)
        if queued is not None and queued.get(entry.tx.nonce) is entry:
            del queued[entry.tx.nonce]
            if not queued:
                del self._by_sender[entry.sender]
                self._base.pop(entry.sender, None)

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

    def content(self) -> list[tuple[PoolTx, bool]]:
        """Every waiting transaction with whether it is pending (next in its sender's
        run from the account nonce) rather than queued behind a nonce gap."""
        with self._lock:
            return [
                (entry, nonce < self._run_end(sender))
                for sender, queued in self._by_sender.items()
                for nonce, entry in sorted(queued.items())
            ]

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
            self._base.update((s, n) for s, n in nonces.items() if s in self._by_sender)
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
            entry = PoolTx(raw, tx, tx_hash, sender, next(self._arrivals), time.monotonic())
            old = self._by_sender.get(sender, {}).get(tx.nonce)
            if old is not None and not _outbids(tx, old.tx):
                raise InvalidTransaction("replaced")
            if old is not None:
                self._drop(old)
            self._by_hash[tx_hash] = entry
            self._by_sender.setdefault(sender, {})[tx.nonce] = entry
            self._base[sender] = nonce


def _cheapness(entry: PoolTx) -> tuple[int, int]:
    """Eviction order: lowest tip first, the newest of equal tips first."""
    return entry.tx.max_priority_fee_per_gas, -entry.arrival


def _check_queued_cost(entry: PoolTx, queued: dict[int, PoolTx], nonce: int, balance: int) -> None:
    """The sender's balance must cover this transaction and every one of its own that
    waits before it (each at its fee cap), not each of them alone."""
    before = sum(queued[n].cost for n in range(nonce, entry.tx.nonce) if n in queued)
    if before and before + entry.cost > balance:
        raise InvalidTransaction(
            f"insufficient funds for gas * price + value: balance {balance}, queued cost "
            f"{before}, tx cost {entry.cost}, overshot {before + entry.cost - balance}"
        )


def _outbids(new: SignedTransactionAPI, old: SignedTransactionAPI) -> bool:
    bump = 100 + PRICE_BUMP
    return (
        new.max_fee_per_gas * 100 >= old.max_fee_per_gas * bump
        and new.max_priority_fee_per_gas * 100 >= old.max_priority_fee_per_gas * bump
    )
