"""Decoding bytes a stranger sent, without trusting their shape (invariant 9,
docs/architecture.md).

py_ecc, imported through py-evm, raises Python's recursion limit to 100,000, so a
native decoder that recurses once per nesting level (the standard library's JSON
scanner, rusty-rlp) overflows the C stack on deeply nested input long before Python
would raise ``RecursionError``: the process dies. Everything that arrives from outside
therefore goes through this module first:

- JSON is parsed by orjson, which stops at 1,024 levels with an error of its own and
  refuses what strict JSON parsers refuse (``NaN``, ``Infinity``, lone surrogates);
- RLP is walked prefix by prefix, without recursion, and refused when its lists nest
  deeper than :data:`MAX_RLP_DEPTH` before any recursive decoder sees it.
"""

from typing import Any

import orjson

MAX_RLP_DEPTH = 16
"""Deepest list nesting any pavm or Ethereum encoding needs (a block's R/W sets nest 6
levels inside the block, an EIP-7702 authorization list 3 inside a transaction)."""


def load_json(data: bytes | str) -> Any:
    """Strict JSON, at most 1,024 levels deep; ``ValueError`` saying what is wrong."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None


def check_rlp_depth(data: bytes, limit: int = MAX_RLP_DEPTH) -> None:
    """Raise ``ValueError`` if ``data``'s RLP lists nest deeper than ``limit``.

    Only the prefixes are read (string payloads are skipped whole), so the walk costs
    one step per item and never recurses. Lengths that run past the end are left to
    the decoder to refuse.
    """
    ends: list[int] = []
    """End offset of each list the walk is inside, innermost last."""
    pos, size = 0, len(data)
    while pos < size:
        while ends and pos >= ends[-1]:
            ends.pop()
        prefix = data[pos]
        if prefix < 0x80:
            pos += 1
            continue
        if prefix < 0xB8:
            pos += prefix - 0x7F
            continue
        if prefix < 0xC0:
            width = prefix - 0xB7
            pos += 1 + width + int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
            continue
        if prefix < 0xF8:
            head, length = 1, prefix - 0xC0
        else:
            width = prefix - 0xF7
            head, length = 1 + width, int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
        if len(ends) >= limit:
            raise ValueError(f"RLP lists nested deeper than {limit} levels")
        if length:
            ends.append(pos + head + length)
        pos += head


def first_list_item(data: bytes, max_size: int) -> bytes:
    """The encoding of the first item of the RLP list ``data``, found from the prefixes
    alone (nothing else is decoded); ``ValueError`` if ``data`` is no such list, or the
    item is longer than ``max_size`` bytes."""
    is_list, start, end = _span(data, 0)
    if not is_list or end != len(data) or start == end:
        raise ValueError("expected a non-empty RLP list")
    _, _, first_end = _span(data, start)
    if first_end > end:
        raise ValueError("RLP item runs past its list")
    if first_end - start > max_size:
        raise ValueError(f"first item is {first_end - start} bytes, at most {max_size}")
    return data[start:first_end]


def _span(data: bytes, pos: int) -> tuple[bool, int, int]:
    """(is a list, payload start, end) of the item whose prefix is at ``pos``."""
    if pos >= len(data):
        raise ValueError("RLP ends early")
    prefix = data[pos]
    if prefix < 0x80:
        return False, pos, pos + 1
    short, base = (prefix < 0xB8, 0x80) if prefix < 0xC0 else (prefix < 0xF8, 0xC0)
    if short:
        return prefix >= 0xC0, pos + 1, pos + 1 + prefix - base
    width = prefix - base - 55
    start = pos + 1 + width
    if start > len(data):
        raise ValueError("RLP ends early")
    return prefix >= 0xC0, start, start + int.from_bytes(data[pos + 1 : start], "big")
