"""Blocks: an Ethereum (Prague) header sealed the Clique way, and a body of
transactions, R/W sets and groups; RLP-encoded.

The header is exactly Ethereum's: standard transactions and receipts tries, logs
bloom, and the Prague fields with the values a chain without uncles, blobs,
withdrawals, beacon roots or requests gives them. pavm's own commitments (the
operation-receipt root, the R/W-set hash and the groups hash) and the miner's 65-byte
secp256k1 seal sit in ``extraData``: ``op root || rwset hash || groups hash || seal``,
the seal signing the keccak of the header whose ``extraData`` lacks it (Clique's
rule, invariant 6 in docs/architecture.md). The block hash is keccak(rlp(header)),
seal included, so any Ethereum tool recomputes it from the fields a node reports.
Encodings are canonical: decoding then re-encoding gives the same bytes, and
anything else is refused.
"""

import hashlib
from dataclasses import dataclass, replace
from typing import Self

from eth.constants import BLANK_ROOT_HASH, EMPTY_UNCLE_HASH
from eth_hash.auto import keccak

from common.chain import signatures
from common.chain.grouping import groups_rlp
from common.chain.rwset import TxRWSet, rwsets_from_rlp
from common.encoding import codec
from common.encoding.codec import uint
from common.encoding.untrusted import first_list_item

SEAL = 65
"""Bytes of the miner's seal at the end of ``extraData``."""
COMMITMENTS = 96
"""Bytes of pavm's commitments at the start of ``extraData``."""
EMPTY_REQUESTS_HASH = hashlib.sha256(b"").digest()
"""EIP-7685's requests hash of a block without requests."""
FIXED: dict[int, bytes] = {
    1: EMPTY_UNCLE_HASH,  # ommersHash
    7: b"",  # difficulty 0
    13: bytes(32),  # mixHash
    14: bytes(8),  # nonce
    16: BLANK_ROOT_HASH,  # withdrawalsRoot
    17: b"",  # blobGasUsed 0
    18: b"",  # excessBlobGas 0
    19: bytes(32),  # parentBeaconBlockRoot
    20: EMPTY_REQUESTS_HASH,  # requestsHash
}
"""Header positions whose value is the same in every pavm block."""
FIELDS = 21
MAX_HEADER = 1024
"""Bytes a header's encoding has at most (its fields are fixed-size or 32-byte
integers: about 750), checked before anything decodes it."""
_HASHES = {0: "parent_hash", 3: "state_root", 4: "transactions_root", 5: "receipts_root"}
_INTS = {8: "number", 9: "gas_limit", 10: "gas_used", 11: "timestamp", 15: "base_fee"}


@dataclass(frozen=True, slots=True)
class Header:
    """A pavm block header: Ethereum's fields that vary, pavm's commitments, the seal."""

    parent_hash: bytes
    number: int
    timestamp: int
    beneficiary: bytes
    state_root: bytes
    transactions_root: bytes
    """Root of the standard transactions trie."""
    receipts_root: bytes
    """Root of the standard receipts trie (status, cumulative gas, bloom, logs)."""
    logs_bloom: bytes
    gas_used: int
    gas_limit: int
    base_fee: int
    op_receipts_root: bytes
    """Commitment to the operation receipts (see :mod:`common.chain.receipts`)."""
    rwset_hash: bytes
    """keccak of the block's canonical R/W set encoding."""
    groups_hash: bytes
    """keccak of the block's canonical groups encoding."""
    seal: bytes = b""
    """65-byte secp256k1 signature (r, s, v) of :attr:`seal_hash` by the miner."""

    @property
    def extra_data(self) -> bytes:
        return self.op_receipts_root + self.rwset_hash + self.groups_hash + self.seal

    def _fields(self, extra: bytes) -> list[object]:
        fields: list[object] = [
            self.parent_hash,
            FIXED[1],
            self.beneficiary,
            self.state_root,
            self.transactions_root,
            self.receipts_root,
            self.logs_bloom,
            FIXED[7],
            uint(self.number),
            uint(self.gas_limit),
            uint(self.gas_used),
            uint(self.timestamp),
            extra,
            FIXED[13],
            FIXED[14],
            uint(self.base_fee),
        ]
        return fields + [FIXED[i] for i in range(16, FIELDS)]

    @property
    def hash(self) -> bytes:
        """keccak(rlp(header)), seal included: the block's identity, as Ethereum's."""
        return bytes(keccak(codec.encode(self._fields(self.extra_data))))

    @property
    def seal_hash(self) -> bytes:
        """What the seal signs: the hash of the header whose extraData lacks the seal."""
        return bytes(keccak(codec.encode(self._fields(self.extra_data[:COMMITMENTS]))))

    def to_rlp(self) -> list[object]:
        return self._fields(self.extra_data)

    @classmethod
    def from_rlp(cls, item: object) -> Self:
        if not isinstance(item, list) or len(item) != FIELDS:
            raise ValueError(f"a header has {FIELDS} fields")
        if not all(isinstance(raw, bytes) for raw in item):
            raise ValueError("header fields must be byte strings")
        raw = [bytes(v) for v in item if isinstance(v, bytes)]
        for index, want in FIXED.items():
            if raw[index] != want:
                raise ValueError(f"header field {index} must be 0x{want.hex()} on pavm")
        for index, name in _HASHES.items():
            if len(raw[index]) != 32:
                raise ValueError(f"header field {name} must be 32 bytes")
        if len(raw[2]) != 20:
            raise ValueError("header beneficiary must be 20 bytes")
        if len(raw[6]) != 256:
            raise ValueError("header logsBloom must be 256 bytes")
        extra = raw[12]
        if len(extra) not in (COMMITMENTS, COMMITMENTS + SEAL):
            raise ValueError(
                f"header extraData must be {COMMITMENTS} or {COMMITMENTS + SEAL} bytes"
            )
        ints = {name: codec.to_uint(raw[index]) for index, name in _INTS.items()}
        return cls(
            parent_hash=raw[0],
            beneficiary=raw[2],
            state_root=raw[3],
            transactions_root=raw[4],
            receipts_root=raw[5],
            logs_bloom=raw[6],
            op_receipts_root=extra[:32],
            rwset_hash=extra[32:64],
            groups_hash=extra[64:COMMITMENTS],
            seal=extra[COMMITMENTS:],
            **ints,
        )

    def signed_by(self, private_key: bytes) -> Self:
        """This header sealed by the miner."""
        unsealed = replace(self, seal=b"")
        return replace(self, seal=signatures.sign(unsealed.seal_hash, private_key))

    def signer(self) -> bytes | None:
        """Address that sealed this header, or ``None`` when the seal is invalid or
        not canonical (a high-s twin of a real seal recovers the same address but
        makes another block hash: :mod:`common.chain.signatures`)."""
        return signatures.recover(self.seal_hash, self.seal)

    def seal_problem(self) -> str:
        """Why the seal is not a canonical signature, ``""`` when its form is right
        (whether the right key made it is :meth:`signer`'s question)."""
        return signatures.problem(self.seal) if self.seal else "the header is not sealed"


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
        block's signature is checked before any work is spent on what it carries; a
        first item longer than any header is refused from its length prefix alone."""
        return Header.from_rlp(codec.decode(first_list_item(data, MAX_HEADER)))

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
