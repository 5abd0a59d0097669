"""Recording account database: the paper's RDR/WTR instructions (section 4.2) for py-evm.

Every public state access py-evm makes goes through :class:`RecordingAccountDB`, a
subclass of py-evm's ``AccountDB`` installed with ``State.configure(account_db_class=...)``.
It appends one :data:`Op` per call, so repeated reads that py-evm's account cache would
hide, and reads inside calls that later revert, are all seen::

    py-evm opcode ─▶ State ─▶ RecordingAccountDB.get_*/set_* ─▶ AccountDB (journal, trie)
                                     │
                                     ├─▶ ops     every read and write, in order (op hashes)
                                     └─▶ writes  writes not undone by a revert (R/W set)

The block beneficiary is special (design invariant 4): while py-evm finalises a
transaction that has not itself touched the beneficiary, the fee credit goes to
``pending_credit`` instead of the account, so fee payments never make two
transactions conflict. The first real access by a transaction flushes the pending
credit into the account and marks the transaction as a beneficiary reader, which
the grouping then orders after every earlier transaction.
"""

from typing import Any, Final

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth_typing import Address, Hash32

from common.errors import PavmError

Op = tuple[int, bytes, int, Any]
"""One recorded operation: ``(kind, address, slot, value)``; ``slot`` is 0 where unused."""

# Reads that take part in conflicts (state the transaction depends on).
R_EXISTS: Final = 1
R_BALANCE: Final = 2
R_NONCE: Final = 3
R_CODE: Final = 4
R_CODE_HASH: Final = 5
R_STORAGE: Final = 6
R_ORIGINAL_STORAGE: Final = 7
# Transaction-local reads: hashed into the receipt, never a conflict.
R_TRANSIENT: Final = 8

# Writes that change state (merged into the block diff).
W_BALANCE: Final = 16
W_NONCE: Final = 17
W_CODE: Final = 18
W_STORAGE: Final = 19
W_DELETE_ACCOUNT: Final = 20
W_DELETE_STORAGE: Final = 21
W_TOUCH: Final = 22
# Transaction-local writes: hashed into the receipt, never a conflict.
W_TRANSIENT: Final = 32
W_WARM_ACCOUNT: Final = 33
W_WARM_SLOT: Final = 34
W_LOG: Final = 35
W_REFUND: Final = 36

FIRST_WRITE: Final = 16
"""Kinds below this number are reads, the rest writes."""

STATE_WRITES: Final = frozenset(
    {W_BALANCE, W_NONCE, W_CODE, W_STORAGE, W_DELETE_ACCOUNT, W_DELETE_STORAGE, W_TOUCH}
)


class BeneficiaryStateError(PavmError):
    """Thrown when fee finalisation would delete an empty beneficiary account.

    Genesis refuses empty accounts and every transaction that empties the
    beneficiary reads it first, so reaching this means the engine itself is wrong.
    """


class RecordingAccountDB(AccountDB):
    """py-evm's account database with every state access recorded.

    Call :meth:`begin_transaction` before a transaction and :meth:`end_transaction`
    after it; :meth:`begin_group` resets the beneficiary credit that is pending for
    the current run of transactions.
    """

    def __init__(self, db: Any, state_root: Hash32 = BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        self.ops: list[Op] = []
        self.writes: list[Op] = []
        self._checkpoints: list[tuple[Any, int, int]] = []
        self.beneficiary: bytes | None = None
        self.pending_credit = 0
        self.reads_beneficiary = False
        self.finalizing = False

    # -- lifecycle ---------------------------------------------------------------

    def begin_group(self) -> None:
        """Start a run of transactions whose fee credits are summed together."""
        self.pending_credit = 0

    def begin_transaction(self) -> None:
        """Forget what was recorded so far; the next ops belong to a new transaction."""
        self.ops = []
        self.writes = []
        self._checkpoints = []
        self.reads_beneficiary = False

    def end_transaction(self) -> tuple[list[Op], list[Op], bool]:
        """Return (all ops, surviving state writes, whether the beneficiary was read)."""
        return self.ops, self.writes, self.reads_beneficiary

    # -- journal: writes inside a reverted frame do not survive --------------------

    def record(self) -> Any:
        checkpoint = super().record()
        self._checkpoints.append((checkpoint, len(self.writes), self.pending_credit))
        return checkpoint

    def discard(self, checkpoint: Any) -> None:
        super().discard(checkpoint)
        while self._checkpoints:
            marker, n_writes, pending = self._checkpoints.pop()
            if marker == checkpoint:
                del self.writes[n_writes:]
                self.pending_credit = pending
                break

    def commit(self, checkpoint: Any) -> None:
        super().commit(checkpoint)
        while self._checkpoints:
            if self._checkpoints.pop()[0] == checkpoint:
                break

    # -- beneficiary ---------------------------------------------------------------

    def _virtual_beneficiary(self, address: bytes) -> bool:
        """True when this access is py-evm crediting fees, not the transaction reading.

        Hot methods test ``address == self.beneficiary`` before calling this.
        """
        if address != self.beneficiary:
            return False
        if self.finalizing and not self.reads_beneficiary:
            return True
        self.reads_beneficiary = True
        if self.pending_credit:
            amount, self.pending_credit = self.pending_credit, 0
            balance = super().get_balance(Address(address)) + amount
            super().set_balance(Address(address), balance)
            self._write(W_BALANCE, address, 0, balance)
        return False

    def _write(self, kind: int, address: bytes, slot: int, value: Any) -> None:
        op = (kind, address, slot, value)
        self.ops.append(op)
        self.writes.append(op)

    # -- reads -----------------------------------------------------------------------

    def get_balance(self, address: Address) -> int:
        if address == self.beneficiary and self._virtual_beneficiary(address):
            return super().get_balance(address) + self.pending_credit
        value = super().get_balance(address)
        self.ops.append((R_BALANCE, address, 0, value))
        return value

    def get_nonce(self, address: Address) -> int:
        value = super().get_nonce(address)
        if address != self.beneficiary or not self._virtual_beneficiary(address):
            self.ops.append((R_NONCE, address, 0, value))
        return value

    def get_code(self, address: Address) -> bytes:
        """Recorded with the code's hash, which binds the code without hashing it again."""
        self._virtual_beneficiary(address)
        value = super().get_code(address)
        self.ops.append((R_CODE, address, 0, super().get_code_hash(address)))
        return value

    def get_code_hash(self, address: Address) -> Hash32:
        value = super().get_code_hash(address)
        if address != self.beneficiary or not self._virtual_beneficiary(address):
            self.ops.append((R_CODE_HASH, address, 0, value))
        return value

    def account_exists(self, address: Address) -> bool:
        if address == self.beneficiary and self._virtual_beneficiary(address):
            return super().account_exists(address) or self.pending_credit > 0
        value = super().account_exists(address)
        self.ops.append((R_EXISTS, address, 0, value))
        return value

    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        if address == self.beneficiary:
            self._virtual_beneficiary(address)
        value = super().get_storage(address, slot, from_journal)
        kind = R_STORAGE if from_journal else R_ORIGINAL_STORAGE
        self.ops.append((kind, address, slot, value))
        return value

    # -- writes ----------------------------------------------------------------------

    def set_balance(self, address: Address, balance: int) -> None:
        if address == self.beneficiary and self._virtual_beneficiary(address):
            self.pending_credit = balance - super().get_balance(address)
            return
        super().set_balance(address, balance)
        self._write(W_BALANCE, address, 0, balance)

    def set_nonce(self, address: Address, nonce: int) -> None:
        if address == self.beneficiary:
            self._virtual_beneficiary(address)
        super().set_nonce(address, nonce)
        self._write(W_NONCE, address, 0, nonce)

    def set_code(self, address: Address, code: bytes) -> None:
        self._virtual_beneficiary(address)
        super().set_code(address, code)
        self._write(W_CODE, address, 0, code)

    def delete_code(self, address: Address) -> None:
        self._virtual_beneficiary(address)
        super().delete_code(address)
        self._write(W_CODE, address, 0, b"")

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        if address == self.beneficiary:
            self._virtual_beneficiary(address)
        super().set_storage(address, slot, value)
        self._write(W_STORAGE, address, slot, value)

    def delete_storage(self, address: Address) -> None:
        self._virtual_beneficiary(address)
        super().delete_storage(address)
        self._write(W_DELETE_STORAGE, address, 0, None)

    def delete_account(self, address: Address) -> None:
        if self._virtual_beneficiary(address):
            raise BeneficiaryStateError("fee finalisation tried to delete the beneficiary")
        super().delete_account(address)
        self._write(W_DELETE_ACCOUNT, address, 0, None)

    def touch_account(self, address: Address) -> None:
        """py-evm touches every callee; only touching a missing account changes state."""
        if self._virtual_beneficiary(address):
            return
        existed = super().account_exists(address)
        self.ops.append((R_EXISTS, address, 0, existed))
        super().touch_account(address)
        if not existed:
            self._write(W_TOUCH, address, 0, None)

    # -- transaction-local effects ---------------------------------------------------

    def mark_address_warm(self, address: Address) -> None:
        super().mark_address_warm(address)
        self.ops.append((W_WARM_ACCOUNT, address, 0, None))

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        super().mark_storage_warm(address, slot)
        self.ops.append((W_WARM_SLOT, address, slot, None))
