"""Receipts from operations, not intermediate states (paper 3.4, invariant 5, docs/architecture.md).

Each transaction's receipt carries a read hash and a write hash, each a keccak
absorbing that transaction's ordered operations one after another (the paper's
rHash/wHash), plus status, gas used and logs. A receipt depends only on its own
transaction's operations, so the receipt root does not depend on the order in which
groups finish; cumulative gas is derived afterwards, in block order.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from eth_bloom.bloom import BloomFilter
from eth_hash.auto import keccak

from common.encoding import codec
from common.encoding.codec import uint
from common.evm.recording import FIRST_WRITE, Op

Log = tuple[bytes, tuple[bytes, ...], bytes]
"""A log entry: (address, topics, data)."""


@dataclass(frozen=True, slots=True)
class OpReceipt:
    """The outcome of one transaction, committed through the receipt root."""

    status: int
    """1 when the transaction succeeded, 0 when it reverted or ran out of gas."""
    gas_used: int
    """Gas charged to this transaction alone (after refunds)."""
    logs: tuple[Log, ...]
    """Logs emitted, in order (empty when the transaction failed)."""
    read_hash: bytes
    """keccak over the transaction's ordered read operations."""
    write_hash: bytes
    """keccak over its ordered write operations, transaction-local ones included."""

    def to_rlp(self) -> list[object]:
        logs = [[address, list(topics), data] for address, topics, data in self.logs]
        return [uint(self.status), uint(self.gas_used), logs, self.read_hash, self.write_hash]


_KIND = [bytes((kind,)) for kind in range(256)]
_ZERO32 = bytes(32)
_TRUE, _FALSE = b"\x01", b"\x00"


def encode_value(value: object) -> bytes:
    """Bytes of a recorded operation's value; a kind always carries one type of value,
    and byte strings (code, transient values, logs) are length-prefixed."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, int):
        return value.to_bytes(32, "big") if value else _ZERO32
    if isinstance(value, bytes):
        return len(value).to_bytes(4, "big") + value
    raise TypeError(f"cannot encode operation value {value!r}")


def operation_hashes(ops: Iterable[Op]) -> tuple[bytes, bytes]:
    """(read hash, write hash): keccak over each kind of operation's encodings, in order.

    An operation encodes as kind (1 byte), address (20, empty for refunds), slot
    (32) and value.
    """
    reads: list[bytes] = []
    writes: list[bytes] = []
    read, write, kinds, zero = reads.extend, writes.extend, _KIND, _ZERO32
    for kind, address, slot, value in ops:
        if type(value) is int:
            encoded = value.to_bytes(32, "big") if value else zero
        else:
            encoded = encode_value(value)
        (read if kind < FIRST_WRITE else write)(
            (kinds[kind], address, slot.to_bytes(32, "big") if slot else zero, encoded)
        )
    return bytes(keccak(b"".join(reads))), bytes(keccak(b"".join(writes)))


def op_receipts_root(receipts: Sequence[OpReceipt]) -> bytes:
    """pavm's commitment to the block's operation receipts, in block order (the first
    32 bytes of the header's extraData)."""
    return bytes(keccak(codec.encode([r.to_rlp() for r in receipts])))


def logs_bloom(logs: Iterable[Log]) -> bytes:
    """The 256-byte Ethereum bloom filter of the logs' addresses and topics."""
    bloom = BloomFilter()
    for address, topics, _ in logs:
        bloom.add(address)
        for topic in topics:
            bloom.add(topic)
    return int(bloom).to_bytes(256, "big")


def cumulative_gas(receipts: Sequence[OpReceipt]) -> list[int]:
    """Cumulative gas per transaction, derived in block order after validation."""
    return list(accumulate(r.gas_used for r in receipts))


def encode_log(topics: Sequence[int], data: bytes) -> bytes:
    """Value recorded for a LOG operation: topic count, topics, then data."""
    return bytes((len(topics),)) + b"".join(t.to_bytes(32, "big") for t in topics) + data
