"""Ethereum JSON-RPC value encodings: quantities, data, addresses, hashes, block tags.

Parsing is strict, as the execution-apis spec asks: quantities are ``0x``-prefixed
hex without leading zeros and must fit 256 bits; data is an even number of hex
digits. Anything else is an ``invalid params`` error naming the parameter.
"""

import re
from typing import Any

from common.rpc.errors import invalid_params

_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
_DATA = re.compile(r"0x([0-9a-fA-F]{2})*")
BLOCK_TAGS = ("latest", "pending", "earliest", "safe", "finalized")
MAX_UINT256 = 2**256 - 1


def to_quantity(value: int) -> str:
    return hex(value)


def to_data(value: bytes) -> str:
    return "0x" + value.hex()


def parse_quantity(value: Any, name: str, limit: int = MAX_UINT256) -> int:
    """A hex quantity; rejects numbers, leading zeros, negatives and overflows."""
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
        raise invalid_params(f"invalid argument {name}: hex number without leading zeros expected")
    number = int(value, 16)
    if number > limit:
        raise invalid_params(f"invalid argument {name}: hex number > {limit.bit_length()} bits")
    return number


def parse_data(value: Any, name: str, max_bytes: int | None = None) -> bytes:
    if not isinstance(value, str) or not _DATA.fullmatch(value):
        raise invalid_params(f"invalid argument {name}: hex string with 0x prefix expected")
    data = bytes.fromhex(value[2:])
    if max_bytes is not None and len(data) > max_bytes:
        raise invalid_params(f"invalid argument {name}: longer than {max_bytes} bytes")
    return data


def parse_fixed(value: Any, name: str, size: int) -> bytes:
    data = parse_data(value, name)
    if len(data) != size:
        raise invalid_params(f"invalid argument {name}: {size} bytes expected, got {len(data)}")
    return data


def parse_address(value: Any, name: str) -> bytes:
    return parse_fixed(value, name, 20)


def parse_hash(value: Any, name: str) -> bytes:
    return parse_fixed(value, name, 32)


def parse_slot(value: Any, name: str) -> int:
    """A storage slot given as 32 bytes of hex or as a quantity."""
    if isinstance(value, str) and len(value) == 66:
        return int.from_bytes(parse_fixed(value, name, 32), "big")
    return parse_quantity(value, name)


def parse_block_tag(value: Any, name: str) -> int | str:
    """A block number or one of the tags; ``safe``/``finalized`` mean ``latest`` here
    (a single miner's chain is final once a block is stored)."""
    if isinstance(value, str) and value in BLOCK_TAGS:
        return "latest" if value in ("safe", "finalized") else value
    if isinstance(value, str) and value.startswith("0x"):
        return parse_quantity(value, name, limit=2**64 - 1)
    raise invalid_params(
        f"invalid argument {name}: block number or one of {', '.join(BLOCK_TAGS)} expected"
    )


def parse_block_ref(value: Any, name: str) -> int | str | bytes:
    """A block parameter as the state methods take it: a number or tag, a block hash
    (32 bytes, returned as ``bytes``), or an EIP-1898 object ``{"blockNumber": ...}`` /
    ``{"blockHash": ..., "requireCanonical": bool}`` (one chain, so every known block
    is canonical)."""
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"blockNumber"}:
            return parse_block_tag(value["blockNumber"], name)
        if keys in ({"blockHash"}, {"blockHash", "requireCanonical"}):
            if not isinstance(value.get("requireCanonical", False), bool):
                raise invalid_params(f"invalid argument {name}: requireCanonical must be bool")
            return parse_fixed(value["blockHash"], name, 32)
        raise invalid_params(
            f"invalid argument {name}: EIP-1898 object with blockNumber or blockHash expected"
        )
    if isinstance(value, str) and len(value) == 66:
        return parse_fixed(value, name, 32)
    return parse_block_tag(value, name)
