"""R/W sets: what each transaction read (locations) and wrote (post-values).

A :class:`TxRWSet` is built from the recorder's ops at the end of a transaction; the
block carries one per transaction in a canonical RLP encoding (addresses sorted,
slots sorted, post-values of writes, as in EIP-7928 block access lists) whose keccak
is committed in the header. The same module merges the writes of a block, in block
order, into the :class:`AccountWrite` diff that advances every state replica.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from eth.db.account import AccountDB
from eth_hash.auto import keccak
from eth_typing import Address

from common.encoding import codec
from common.encoding.codec import uint
from common.evm.recording import FIRST_WRITE, Op, OpKind
from common.types import HEADER_SLOT, StateKey

# Bits of AccountReads.fields.
READ_EXISTS = 1
READ_BALANCE = 2
READ_NONCE = 4
READ_CODE = 8

_READ_FIELD: dict[int, int] = {
    OpKind.READ_EXISTS: READ_EXISTS,
    OpKind.READ_BALANCE: READ_BALANCE,
    OpKind.READ_NONCE: READ_NONCE,
    OpKind.READ_CODE: READ_CODE,
    OpKind.READ_CODE_HASH: READ_CODE,
}

# Bits of AccountWrite.flags.
WIPED = 1
"""The account was deleted; writes listed after it start from an empty account."""
STORAGE_WIPED = 2
"""The account's storage was cleared (CREATE onto an address with leftover storage)."""
EXISTS = 4
"""The account record is present after the writes."""
BALANCE = 8
NONCE = 16
CODE = 32


@dataclass(slots=True)
class AccountWrite:
    """The post-values a transaction (or a block) leaves on one account."""

    flags: int = 0
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: dict[int, int] = field(default_factory=dict)

    def then(self, later: "AccountWrite") -> "AccountWrite":
        """The combined effect of this write followed by ``later``."""
        merged = self.copy()
        merged.absorb(later)
        return merged

    def copy(self) -> "AccountWrite":
        return AccountWrite(self.flags, self.balance, self.nonce, self.code, dict(self.storage))

    def absorb(self, later: "AccountWrite") -> None:
        """Become the combined effect of this write followed by ``later``, in place
        (a block's many writes to one hot contract are folded without copying its
        storage each time)."""
        if later.flags & WIPED:
            self.flags, self.balance, self.nonce, self.code = (
                later.flags,
                later.balance,
                later.nonce,
                later.code,
            )
            self.storage = dict(later.storage)
            return
        self.flags |= later.flags
        if later.flags & BALANCE:
            self.balance = later.balance
        if later.flags & NONCE:
            self.nonce = later.nonce
        if later.flags & CODE:
            self.code = later.code
        if later.flags & STORAGE_WIPED:
            self.storage = dict(later.storage)
        else:
            self.storage.update(later.storage)

    def encode_fields(self, address: bytes) -> list[object]:
        slots = [[uint(slot), uint(self.storage[slot])] for slot in sorted(self.storage)]
        return [address, uint(self.flags), uint(self.balance), uint(self.nonce), self.code, slots]


@dataclass(frozen=True, slots=True)
class TxRWSet:
    """One transaction's declared (or observed) reads and writes.

    ``reads`` maps an address to (READ_* bits, sorted storage slots read); ``writes``
    maps an address to its post-values. Transaction-local effects (transient storage,
    warm sets, refunds, logs) are not here: they cannot conflict across transactions.
    """

    reads: dict[bytes, tuple[int, tuple[int, ...]]]
    writes: dict[bytes, AccountWrite]
    reads_beneficiary: bool
    """The transaction touched the block beneficiary, so it follows every earlier one."""

    def conflict_keys(self) -> Iterator[tuple[StateKey, bool]]:
        """Conflict keys with ``True`` for a write; any read of an account reads its header."""
        for address, (_, slots) in self.reads.items():
            yield (address, HEADER_SLOT), False
            for slot in slots:
                yield (address, slot), False
        for address, write in self.writes.items():
            if write.flags:
                yield (address, HEADER_SLOT), True
            for slot in write.storage:
                yield (address, slot), True

    def to_rlp(self) -> list[object]:
        reads = [
            [address, uint(fields), [uint(s) for s in slots]]
            for address, (fields, slots) in sorted(self.reads.items())
        ]
        writes = [write.encode_fields(address) for address, write in sorted(self.writes.items())]
        return [reads, writes, uint(self.reads_beneficiary)]

    @classmethod
    def from_rlp(cls, item: object) -> "TxRWSet":
        raw_reads, raw_writes, flag = _as_list(item, 3)
        reads = {}
        for entry in _as_list(raw_reads):
            address, fields, slots = _as_list(entry, 3)
            reads[_as_bytes(address)] = (
                _as_int(fields),
                tuple(_as_int(s) for s in _as_list(slots)),
            )
        writes = {}
        for entry in _as_list(raw_writes):
            address, flags, balance, nonce, code, slots = _as_list(entry, 6)
            storage = {}
            for pair in _as_list(slots):
                slot, value = _as_list(pair, 2)
                storage[_as_int(slot)] = _as_int(value)
            writes[_as_bytes(address)] = AccountWrite(
                _as_int(flags), _as_int(balance), _as_int(nonce), _as_bytes(code), storage
            )
        return cls(reads, writes, bool(_as_int(flag)))

    def encode(self) -> bytes:
        """Canonical bytes of this R/W set."""
        return codec.encode(self.to_rlp())


def _as_list(item: object, length: int | None = None) -> list[object]:
    if not isinstance(item, list) or (length is not None and len(item) != length):
        raise ValueError(f"malformed R/W set entry: {item!r:.80}")
    return item


def _as_bytes(item: object) -> bytes:
    if not isinstance(item, bytes):
        raise ValueError("malformed R/W set: expected bytes")
    return item


def _as_int(item: object) -> int:
    return codec.to_uint(item)


def build_rwset(ops: Iterable[Op], writes: Iterable[Op], reads_beneficiary: bool) -> TxRWSet:
    """Fold a transaction's recorded ops into its R/W set."""
    fields: dict[bytes, int] = {}
    slots: dict[bytes, set[int]] = {}
    for kind, address, slot, _ in ops:
        if kind >= FIRST_WRITE:
            continue
        bit = _READ_FIELD.get(kind)
        if bit is not None:
            fields[address] = fields.get(address, 0) | bit
        elif kind == OpKind.READ_STORAGE or kind == OpKind.READ_ORIGINAL_STORAGE:
            fields.setdefault(address, 0)
            slots.setdefault(address, set()).add(slot)
    reads = {a: (f, tuple(sorted(slots.get(a, ())))) for a, f in fields.items()}
    return TxRWSet(reads, collapse_writes(writes), reads_beneficiary)


def collapse_writes(writes: Iterable[Op]) -> dict[bytes, AccountWrite]:
    """Post-values per account of an ordered list of surviving state writes."""
    out: dict[bytes, AccountWrite] = {}
    for kind, address, slot, value in writes:
        acc = out.get(address)
        if acc is None:
            acc = out[address] = AccountWrite()
        if kind == OpKind.WRITE_STORAGE:
            acc.storage[slot] = value
        elif kind == OpKind.WRITE_BALANCE:
            acc.balance = value
            acc.flags |= BALANCE | EXISTS
        elif kind == OpKind.WRITE_NONCE:
            acc.nonce = value
            acc.flags |= NONCE | EXISTS
        elif kind == OpKind.WRITE_CODE:
            acc.code = value
            acc.flags |= CODE | EXISTS
        elif kind == OpKind.CREATE_ACCOUNT:
            acc.flags |= EXISTS
        elif kind == OpKind.DELETE_ACCOUNT:
            out[address] = AccountWrite(WIPED)
        elif kind == OpKind.DELETE_STORAGE:
            acc.flags |= STORAGE_WIPED
            acc.storage = {}
    return out


def merge_writes(rwsets: Iterable[TxRWSet]) -> dict[bytes, AccountWrite]:
    """The block diff: every transaction's writes applied in block order."""
    diff: dict[bytes, AccountWrite] = {}
    for rwset in rwsets:
        fold(diff, rwset.writes)
    return diff


def fold(diff: dict[bytes, AccountWrite], writes: dict[bytes, AccountWrite]) -> None:
    """Apply ``writes`` after what ``diff`` holds, in place (``diff`` owns its values)."""
    for address, write in writes.items():
        earlier = diff.get(address)
        if earlier is None:
            diff[address] = write.copy()
        else:
            earlier.absorb(write)


def apply_diff(db: AccountDB, diff: dict[bytes, AccountWrite]) -> None:
    """Apply a block diff to a state replica, bypassing any recording subclass."""
    for raw, write in diff.items():
        address = Address(raw)
        flags = write.flags
        if flags & WIPED:
            AccountDB.delete_account(db, address)
        if flags & STORAGE_WIPED:
            AccountDB.delete_storage(db, address)
        if flags & EXISTS:
            AccountDB.touch_account(db, address)
        if flags & BALANCE:
            AccountDB.set_balance(db, address, write.balance)
        if flags & NONCE:
            AccountDB.set_nonce(db, address, write.nonce)
        if flags & CODE:
            AccountDB.set_code(db, address, write.code)
        for slot, value in write.storage.items():
            AccountDB.set_storage(db, address, slot, value)


def block_rwset_encoding(rwsets: Sequence[TxRWSet]) -> bytes:
    """Canonical bytes of a block's R/W sets (one per transaction, in block order)."""
    return codec.encode([r.to_rlp() for r in rwsets])


def rwset_hash(encoding: bytes) -> bytes:
    """The header's commitment to a block's R/W sets."""
    return bytes(keccak(encoding))


def decode_block_rwsets(encoding: bytes) -> list[TxRWSet]:
    """Inverse of :func:`block_rwset_encoding`; raises ``ValueError`` on malformed input."""
    rwsets = rwsets_from_rlp(codec.decode(encoding))
    if block_rwset_encoding(rwsets) != encoding:
        raise ValueError("R/W sets are not in canonical encoding")
    return rwsets


def rwsets_from_rlp(items: object) -> list[TxRWSet]:
    """Parse the decoded RLP list of a block's R/W sets (canonical form checked by caller)."""
    return [TxRWSet.from_rlp(item) for item in _as_list(items)]


def first_difference(declared: TxRWSet, observed: TxRWSet) -> str:
    """Name the first key on which two R/W sets of one transaction disagree."""
    for address in sorted(set(declared.reads) | set(observed.reads)):
        d = declared.reads.get(address)
        o = observed.reads.get(address)
        if d == o:
            continue
        if d is None:
            return f"undeclared read of account 0x{address.hex()}"
        if o is None:
            return f"declared read of account 0x{address.hex()} did not happen"
        if d[0] != o[0]:
            return f"read fields of account 0x{address.hex()}: declared {d[0]}, observed {o[0]}"
        missing = sorted(set(o[1]) - set(d[1]))
        if missing:
            return f"undeclared read of 0x{address.hex()} slot {missing[0]:#x}"
        extra = sorted(set(d[1]) - set(o[1]))
        return f"declared read of 0x{address.hex()} slot {extra[0]:#x} did not happen"
    for address in sorted(set(declared.writes) | set(observed.writes)):
        dw = declared.writes.get(address)
        ow = observed.writes.get(address)
        if dw == ow:
            continue
        if dw is None:
            return f"undeclared write of account 0x{address.hex()}"
        if ow is None:
            return f"declared write of account 0x{address.hex()} did not happen"
        for slot in sorted(set(dw.storage) | set(ow.storage)):
            if dw.storage.get(slot) != ow.storage.get(slot):
                return (
                    f"write of 0x{address.hex()} slot {slot:#x}: declared "
                    f"{dw.storage.get(slot)}, observed {ow.storage.get(slot)}"
                )
        return f"write of account 0x{address.hex()}: declared {dw}, observed {ow}"
    if declared.reads_beneficiary != observed.reads_beneficiary:
        return (
            f"beneficiary access: declared {declared.reads_beneficiary}, "
            f"observed {observed.reads_beneficiary}"
        )
    return "no difference"
