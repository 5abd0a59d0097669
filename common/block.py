"""Blocks: header + transactions + R/W sets + groups, RLP-encoded and signed by the miner.

The header commits to everything a validator checks (state root, transactions,
operation receipts, R/W sets, groups, gas); the miner signs its keccak hash with
secp256k1 (invariant 6, docs/architecture.md). Encodings are canonical: decoding then re-encoding
gives the same bytes, and anything else is refused.
"""

from dataclasses import dataclass, fields, replace
from typing import Self

from eth_hash.auto import keccak
from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError

from common import codec
from common.codec import uint
from common.grouping import groups_rlp
from common.rwset import TxRWSet, rwsets_from_rlp
from common.untrusted import first_list_item

_HASH_FIELDS = frozenset(
    {"parent_hash", "state_root", "transactions_root", "receipts_root", "rwset_hash", "groups_hash"}
)
_INT_FIELDS = frozenset({"number", "timestamp", "gas_used", "gas_limit", "base_fee"})


@dataclass(frozen=True, slots=True)
class Header:
    """A pavm block header; ``signature`` is not part of the hash it signs."""

    parent_hash: bytes
    number: int
    timestamp: int
    beneficiary: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    """Commitment to the operation receipts (see :mod:`common.receipts`)."""
    rwset_hash: bytes
    """keccak of the block's canonical R/W set encoding."""
    groups_hash: bytes
    """keccak of the block's canonical groups encoding."""
    gas_used: int
    gas_limit: int
    base_fee: int
    signature: bytes = b""
    """65-byte secp256k1 signature (r, s, v) of :attr:`hash` by the miner."""

    def _unsigned_fields(self) -> list[object]:
        return [
            uint(value) if isinstance(value, int) else value
            for value in (getattr(self, f.name) for f in fields(self) if f.name != "signature")
        ]

    @property
    def hash(self) -> bytes:
        """keccak of the RLP of every field but the signature: the block's identity."""
        return bytes(keccak(codec.encode(self._unsigned_fields())))

    def to_rlp(self) -> list[object]:
        return [*self._unsigned_fields(), self.signature]

    @classmethod
    def from_rlp(cls, item: object) -> Self:
        names = [f.name for f in fields(cls)]
        if not isinstance(item, list) or len(item) != len(names):
            raise ValueError(f"a header has {len(names)} fields")
        values: dict[str, object] = {}
        for name, raw in zip(names, item, strict=True):
            if not isinstance(raw, bytes):
                raise ValueError(f"header field {name} is not a byte string")
            if name in _INT_FIELDS:
                values[name] = codec.to_uint(raw)
            elif name in _HASH_FIELDS and len(raw) != 32:
                raise ValueError(f"header field {name} must be 32 bytes")
            elif name == "beneficiary" and len(raw) != 20:
                raise ValueError("header beneficiary must be 20 bytes")
            else:
                values[name] = raw
        return cls(**values)  # type: ignore[arg-type]

    def signed_by(self, private_key: bytes) -> Self:
        """This header with the miner's signature over its hash."""
        signature = keys.PrivateKey(private_key).sign_msg_hash(self.hash)
        return replace(self, signature=signature.to_bytes())

    def signer(self) -> bytes | None:
        """Address that signed this header, or ``None`` when the signature is invalid."""
        if len(self.signature) != 65:
            return None
        try:
            public = keys.Signature(self.signature).recover_public_key_from_msg_hash(self.hash)
        except (BadSignature, ValidationError):
            return None
        return bytes(public.to_canonical_address())


@dataclass(frozen=True, slots=True)
class Block:
    """A signed header and the body it commits to."""

    header: Header
    transactions: tuple[bytes, ...]
    """Signed transactions in their network encoding, in block order."""
    rwsets: tuple[TxRWSet, ...]
    """Declared R/W set of each transaction, in block order."""
    groups: tuple[tuple[int, ...], ...]
    """Transaction indices of each group, ascending inside, groups by first index."""
    group_gas: tuple[int, ...]
    """Gas the miner measured per group: the validator's scheduling weights."""

    @property
    def hash(self) -> bytes:
        return self.header.hash

    def encode(self) -> bytes:
        """Canonical network encoding of the whole block."""
        groups = groups_rlp(self.groups, self.group_gas)
        rwsets = [r.to_rlp() for r in self.rwsets]
        return codec.encode([self.header.to_rlp(), list(self.transactions), rwsets, groups])

    @staticmethod
    def header_of(data: bytes) -> Header:
        """The header of an encoded block, read without decoding the body, so that a
        block's signature is checked before any work is spent on what it carries."""
        return Header.from_rlp(codec.decode(first_list_item(data)))

    @classmethod
    def decode(cls, data: bytes) -> "Block":
        """Parse a block; raises ``ValueError`` unless ``data`` is a canonical encoding."""
        item = codec.decode(data)
        if not isinstance(item, list) or len(item) != 4:
            raise ValueError("a block is [header, transactions, rwsets, groups]")
        raw_header, raw_txs, raw_rwsets, raw_groups = item
        header = Header.from_rlp(raw_header)
        if not isinstance(raw_txs, list) or not all(isinstance(t, bytes) for t in raw_txs):
            raise ValueError("block transactions must be a list of byte strings")
        rwsets = rwsets_from_rlp(raw_rwsets)
        if not isinstance(raw_groups, list):
            raise ValueError("block groups must be a list")
        groups, gas = [], []
        for entry in raw_groups:
            if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], list):
                raise ValueError("a group is [gas, [indices]]")
            gas.append(codec.to_uint(entry[0]))
            groups.append(tuple(codec.to_uint(i) for i in entry[1]))
        block = cls(header, tuple(raw_txs), tuple(rwsets), tuple(groups), tuple(gas))
        if block.encode() != data:
            raise ValueError("block is not in canonical encoding")
        return block


def transactions_root(transactions: tuple[bytes, ...] | list[bytes]) -> bytes:
    """Commitment to the ordered list of encoded transactions."""
    return bytes(keccak(codec.encode(list(transactions))))
