"""go-ethereum's raw-encoding methods: ``debug_getRawHeader``, ``debug_getRawBlock``,
``debug_getRawReceipts`` and ``debug_getRawTransaction``: the consensus encodings of
what a node stores, for tools that decode them themselves.

A raw block is Ethereum's ``rlp([header, transactions, uncles, withdrawals])``
(typed transactions as byte strings, legacy ones as lists); pavm's R/W sets and
groups are not part of it (``pavm_getBlockRWSet``/``pavm_getBlockGroups`` serve them).
"""

from collections.abc import Callable
from typing import Any

import rlp

from common.chain.block import Block
from common.chain.roots import receipt_encodings, tx_type
from common.encoding import codec
from common.rpc.dispatch import Handler, expect_params
from common.rpc.errors import SERVER_ERROR, RpcError
from common.rpc.hexcodec import parse_hash, to_data
from common.store.chain import ChainStore


class RawApi:
    """The raw-encoding methods over a chain store; ``find`` resolves a block parameter."""

    def __init__(self, store: ChainStore, find: Callable[[Any], Block | None]) -> None:
        self.store = store
        self.find = find

    def methods(self) -> dict[str, Handler]:
        return {
            "debug_getRawHeader": lambda p: to_data(codec.encode(self._block(p).header.to_rlp())),
            "debug_getRawBlock": lambda p: to_data(raw_block(self._block(p))),
            "debug_getRawReceipts": self.raw_receipts,
            "debug_getRawTransaction": self.raw_transaction,
        }

    def _block(self, params: list[Any]) -> Block:
        (tag,) = expect_params(params, 1)
        block = self.find(tag)
        if block is None:
            raise RpcError(SERVER_ERROR, "block not found")
        return block

    def raw_receipts(self, params: list[Any]) -> list[str]:
        block = self._block(params)
        receipts = self.store.receipts(block.header.number) or []
        return [to_data(e) for e in receipt_encodings(block.transactions, receipts)]

    def raw_transaction(self, params: list[Any]) -> str | None:
        (value,) = expect_params(params, 1)
        location = self.store.transaction_location(parse_hash(value, "hash"))
        if location is None:
            return None
        block = self.store.block(location[0])
        assert block is not None
        return to_data(block.transactions[location[1]])


def raw_block(block: Block) -> bytes:
    """Ethereum's encoding of ``block`` (header, transactions, no uncles or withdrawals)."""
    transactions = [raw if tx_type(raw) else rlp.decode(raw) for raw in block.transactions]
    encoded: bytes = rlp.encode([block.header.to_rlp(), transactions, [], []])
    return encoded
