"""Recording account database: the paper's RDR/WTR instructions (section 4.2) for py-evm.

Every public state access py-evm makes goes through :class:`RecordingAccountDB`, a
subclass of py-evm's ``AccountDB`` installed with ``State.configure(account_db_class=...)``.
It appends one :data:`Op` per call, so repeated reads that py-evm's account cache would
hide, and reads inside calls that later revert, are all seen::

    py-evm opcode ─▶ State ─▶ RecordingAccountDB.get_*/set_* ─▶ AccountDB (journal, trie)
                                     │
                                     ├─▶ ops     every read and write, in order (op hashes)
                                     └─▶ writes  writes not undone by a revert (R/W set)

The block beneficiary is special (invariant 4, docs/architecture.md): while py-evm finalises a
transaction that has not itself touched the beneficiary, the fee credit goes to
``pending_credit`` instead of the account, so fee payments never make two
transactions conflict. The first real access by a transaction flushes the pending
credit into the account and marks the transaction as a beneficiary reader, which
the grouping then orders after every earlier transaction.
"""

from enum import IntEnum
from typing import Any, Final

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth_typing import Address, Hash32

from common.errors import PavmError

Op = tuple[int, bytes, int, Any]
"""One recorded operation: ``(kind, address, slot, value)``; ``slot`` is 0 where unused."""


class OpKind(IntEnum):
    """What a recorded operation did; its lower-case name is how ``pavm_getOperationReceipt``
    shows it. Values are hashed into operation receipts, so they never change."""

    # Reads that take part in conflicts (state the transaction depends on).
    READ_EXISTS = 1
    READ_BALANCE = 2
    READ_NONCE = 3
    READ_CODE = 4
    READ_CODE_HASH = 5
    READ_STORAGE = 6
    READ_ORIGINAL_STORAGE = 7
    # Transaction-local reads: hashed into the receipt, never a conflict.
    READ_TRANSIENT = 8
    # Writes that change state (merged into the block diff).
    WRITE_BALANCE = 16
    WRITE_NONCE = 17
    WRITE_CODE = 18
    WRITE_STORAGE = 19
    DELETE_ACCOUNT = 20
    DELETE_STORAGE = 21
    CREATE_ACCOUNT = 22
    # Transaction-local writes: hashed into the receipt, never a conflict.
    WRITE_TRANSIENT = 32
    WARM_ACCOUNT = 33
    WARM_SLOT = 34
    LOG = 35
    REFUND = 36
    MARK = 37
    """A scope mark of the RR/RPHASH instructions (``common/evm/instructions.py``)."""


FIRST_WRITE: Final = 16
"""Kinds below this number are reads, the rest writes."""

STATE_WRITES: Final = frozenset(
    {
        OpKind.WRITE_BALANCE,
        OpKind.WRITE_NONCE,
        OpKind.WRITE_CODE,
        OpKind.WRITE_STORAGE,
        OpKind.DELETE_ACCOUNT,
        OpKind.DELETE_STORAGE,
        OpKind.CREATE_ACCOUNT,
    }
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
        self.originals: dict[tuple[bytes, int], int] | None = None
        """Storage values a transaction starts from that the journal does not hold as
        locked (a validation task's inputs; see :meth:`start_from`)."""
        self.wiped_originals: frozenset[bytes] = frozenset()

    # -- lifecycle ---------------------------------------------------------------

    def begin_group(self) -> None:
        """Start a run of transactions whose fee credits are summed together."""
        self.pending_credit = 0

    def settle_credit(self) -> None:
        """Credit the beneficiary, once, with the fees summed since :meth:`begin_group`.

        Written past the recorder (no transaction's R/W set holds it), so fee payments
        never make two transactions conflict (invariant 4, docs/architecture.md).
        """
        if self.pending_credit and self.beneficiary is not None:
            beneficiary = Address(self.beneficiary)
            balance = super().get_balance(beneficiary) + self.pending_credit
            super().set_balance(beneficiary, balance)
            self.pending_credit = 0

    def begin_transaction(self) -> None:
        """Forget what was recorded so far; the next ops belong to a new transaction."""
        self.ops = []
        self.writes = []
        self._checkpoints = []
        self.reads_beneficiary = False

    def start_from(self, originals: dict[tuple[bytes, int], int], wiped: frozenset[bytes]) -> None:
        """The next transaction starts from these storage values (slots of ``wiped``
        accounts not listed start at 0) although they sit in the journal above the
        locked state: SSTORE's gas depends on a slot's value at the start of the
        transaction, which py-evm reads from the locked state. A task that applied its
        inputs inside a checkpoint and will discard it afterwards calls this instead of
        locking them in (which could not be undone). :meth:`forget_start` ends it."""
        self.originals, self.wiped_originals = originals, wiped

    def forget_start(self) -> None:
        self.originals, self.wiped_originals = None, frozenset()

    def task_checkpoint(self) -> tuple[Any, frozenset[bytes]]:
        """A checkpoint a whole transaction can be undone to (:meth:`undo_task`)."""
        return self.record(), frozenset(self._account_stores)

    def undo_task(self, mark: tuple[Any, frozenset[bytes]]) -> None:
        """Undo everything since :meth:`task_checkpoint`. py-evm's storage can revert
        across one storage wipe only, and one transaction may make two (CREATE, then
        SELFDESTRUCT); the storage of an account first opened since the checkpoint
        holds nothing older, so it is dropped rather than reverted (it is reopened
        from the account's root when next used). ``ValidationError`` from py-evm means
        the replica could not be restored."""
        checkpoint, stores = mark
        for address in [a for a in self._account_stores if a not in stores]:
            del self._account_stores[address]
            self._dirty_accounts.discard(address)
        self.discard(checkpoint)

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
            self._write(OpKind.WRITE_BALANCE, address, 0, balance)
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
        self.ops.append((OpKind.READ_BALANCE, address, 0, value))
        return value

    def get_nonce(self, address: Address) -> int:
        value = super().get_nonce(address)
        if address != self.beneficiary or not self._virtual_beneficiary(address):
            self.ops.append((OpKind.READ_NONCE, address, 0, value))
        return value

    def get_code(self, address: Address) -> bytes:
        """Recorded with the code's hash, which binds the code without hashing it again."""
        self._virtual_beneficiary(address)
        value = super().get_code(address)
        self.ops.append((OpKind.READ_CODE, address, 0, super().get_code_hash(address)))
        return value

    def get_code_hash(self, address: Address) -> Hash32:
        value = super().get_code_hash(address)
        if address != self.beneficiary or not self._virtual_beneficiary(address):
            self.ops.append((OpKind.READ_CODE_HASH, address, 0, value))
        return value

    def account_exists(self, address: Address) -> bool:
        if address == self.beneficiary and self._virtual_beneficiary(address):
            return super().account_exists(address) or self.pending_credit > 0
        value = super().account_exists(address)
        self.ops.append((OpKind.READ_EXISTS, address, 0, value))
        return value

    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        if address == self.beneficiary:
            self._virtual_beneficiary(address)
        originals = self.originals
        if from_journal or originals is None:
            value = super().get_storage(address, slot, from_journal)
        elif (address, slot) in originals:
            value = originals[(address, slot)]
        elif address in self.wiped_originals:
            value = 0
        else:
            value = super().get_storage(address, slot, from_journal)
        kind = OpKind.READ_STORAGE if from_journal else OpKind.READ_ORIGINAL_STORAGE
        self.ops.append((kind, address, slot, value))
        return value

    # -- writes ----------------------------------------------------------------------

    def set_balance(self, address: Address, balance: int) -> None:
        if address == self.beneficiary and self._virtual_beneficiary(address):
            self.pending_credit = balance - super().get_balance(address)
            return
        super().set_balance(address, balance)
        self._write(OpKind.WRITE_BALANCE, address, 0, balance)

    def set_nonce(self, address: Address, nonce: int) -> None:
        if address == self.beneficiary:
            self._virtual_beneficiary(address)
        super().set_nonce(address, nonce)
        self._write(OpKind.WRITE_NONCE, address, 0, nonce)

    def set_code(self, address: Address, code: bytes) -> None:
        self._virtual_beneficiary(address)
        super().set_code(address, code)
        self._write(OpKind.WRITE_CODE, address, 0, code)

    def delete_code(self, address: Address) -> None:
        self._virtual_beneficiary(address)
        super().delete_code(address)
        self._write(OpKind.WRITE_CODE, address, 0, b"")

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        if address == self.beneficiary:
            self._virtual_beneficiary(address)
        super().set_storage(address, slot, value)
        self._write(OpKind.WRITE_STORAGE, address, slot, value)

    def delete_storage(self, address: Address) -> None:
        self._virtual_beneficiary(address)
        super().delete_storage(address)
        self._write(OpKind.DELETE_STORAGE, address, 0, None)

    def delete_account(self, address: Address) -> None:
        if self._virtual_beneficiary(address):
            raise BeneficiaryStateError("fee finalisation tried to delete the beneficiary")
        super().delete_account(address)
        self._write(OpKind.DELETE_ACCOUNT, address, 0, None)

    def touch_account(self, address: Address) -> None:
        """py-evm touches every callee; only touching a missing account changes state."""
        if self._virtual_beneficiary(address):
            return
        existed = super().account_exists(address)
        self.ops.append((OpKind.READ_EXISTS, address, 0, existed))
        super().touch_account(address)
        if not existed:
            self._write(OpKind.CREATE_ACCOUNT, address, 0, None)

    # -- transaction-local effects ---------------------------------------------------

    def mark_address_warm(self, address: Address) -> None:
        super().mark_address_warm(address)
        self.ops.append((OpKind.WARM_ACCOUNT, address, 0, None))

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        super().mark_storage_warm(address, slot)
        self.ops.append((OpKind.WARM_SLOT, address, slot, None))
