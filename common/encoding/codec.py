"""RLP for the engine's canonical encodings, without pyrlp's per-item type inference.

Structures are turned into nested lists of byte strings by their ``to_rlp`` methods
(integers as minimal big-endian bytes, as RLP requires) and encoded in one call to
the native encoder; that is what keeps hashing a 300-transaction block's R/W sets
cheap. Decoding checks that integers carry no leading zero byte.
"""

from typing import Any

import rlp
from rlp.codec import encode_raw

from common.encoding.untrusted import check_rlp_depth


def uint(value: int) -> bytes:
    """Minimal big-endian bytes of a non-negative integer (empty for zero)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def to_uint(raw: object) -> int:
    """Parse a canonical RLP integer; raises ``ValueError`` on anything else."""
    if not isinstance(raw, bytes):
        raise ValueError("expected an integer, found a list")
    if raw[:1] == b"\x00":
        raise ValueError("integer with a leading zero byte is not canonical")
    return int.from_bytes(raw, "big")


def encode(item: Any) -> bytes:
    """RLP of nested lists of byte strings."""
    return bytes(encode_raw(item))


def decode(data: bytes) -> Any:
    """Strict RLP decode to nested lists of byte strings; ``ValueError`` when malformed
    or nested deeper than any pavm encoding (checked first: the decoder recurses)."""
    check_rlp_depth(data)
    try:
        return rlp.decode(data, strict=True)
    except rlp.DecodingError as exc:
        raise ValueError(f"not valid RLP: {exc}") from exc
