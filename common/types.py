"""Identities used across the engine, as distinct types so mypy keeps them apart."""

from typing import NewType

from eth_typing import Address, Hash32

TxIndex = NewType("TxIndex", int)
"""Position of a transaction in its block."""

GroupId = NewType("GroupId", int)
"""Position of a group in the block's list of groups."""

StateKey = tuple[bytes, int]
"""A unit of conflict: ``(address, slot)`` for a storage slot, ``(address, -1)`` for the
account header (existence, balance, nonce, code)."""

HEADER_SLOT = -1
"""The slot number that stands for the account header in a :data:`StateKey`."""

__all__ = [
    "HEADER_SLOT",
    "Address",
    "GroupId",
    "Hash32",
    "StateKey",
    "TxIndex",
]
