"""The parameter types of JSON-RPC methods: what a handler's signature says it takes.

Each type is ``Annotated[<what the handler gets>, Parsed(<parser>)]``; the parser is
one of ``common/rpc/hexcodec.py``'s, so a malformed value gets the same
``invalid argument <name>: ...`` message whichever method takes it. A parameter
annotated without ``Parsed`` (``Raw``) reaches the handler as the client sent it:
for objects (calls, filters, tracer options, simulation payloads) whose handler
checks them itself.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from common.rpc.hexcodec import (
    parse_address,
    parse_block_ref,
    parse_block_tag,
    parse_data,
    parse_hash,
    parse_quantity,
    parse_slot,
)


@dataclass(frozen=True, slots=True)
class Parsed:
    """How one parameter type is read: ``parse(value, name)``, raising the dispatcher's
    invalid-params error naming the parameter."""

    parse: Callable[[Any, str], Any]


def _truthy(value: Any, name: str) -> bool:
    return bool(value)


Raw = Any
"""As the client sent it (JSON): the handler checks it."""
Address = Annotated[bytes, Parsed(parse_address)]
"""20 bytes of hex."""
Hash = Annotated[bytes, Parsed(parse_hash)]
"""32 bytes of hex."""
Data = Annotated[bytes, Parsed(parse_data)]
"""Any number of bytes, as hex."""
Quantity = Annotated[int, Parsed(parse_quantity)]
"""A hex quantity of at most 256 bits."""
Uint64 = Annotated[int, Parsed(partial(parse_quantity, limit=2**64 - 1))]
"""A hex quantity of at most 64 bits (an index, a nonce)."""
Int64 = Annotated[int, Parsed(partial(parse_quantity, limit=2**63 - 1))]
"""A hex quantity a signed 64-bit integer holds (what the store numbers blocks by)."""
Slot = Annotated[int, Parsed(parse_slot)]
"""A storage slot: 32 bytes of hex or a quantity."""
BlockTag = Annotated[int | str, Parsed(parse_block_tag)]
"""A block number or tag (``latest``, ``pending``, ``earliest``; ``safe`` and
``finalized`` read as ``latest``)."""
BlockRef = Annotated[int | str | bytes, Parsed(parse_block_ref)]
"""A block tag, number, hash (``bytes``) or EIP-1898 object, as state methods take it."""
Flag = Annotated[bool, Parsed(_truthy)]
"""A boolean read as JSON truthiness (``eth_getBlockByNumber``'s full-transactions flag)."""
