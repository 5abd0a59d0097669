"""The ``debug_*`` namespace but tracing (``common/rpc/tracing.py``): the blocks a
node refused, and go-ethereum's raw-encoding methods (``debug_getRawHeader``,
``debug_getRawBlock``, ``debug_getRawReceipts``, ``debug_getRawTransaction``): the
consensus encodings of what a node stores, for tools that decode them themselves.

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
from common.rpc.errors import SERVER_ERROR, RpcError
from common.rpc.hexcodec import to_data
from common.rpc.namespace import Namespace, method
from common.rpc.params import BlockRef, Hash
from common.rpc.views import block_json
from common.store.chain import ChainStore


class DebugApi(Namespace):
    """The debug methods over a chain store; ``find`` finds the block a parsed block
    parameter names, ``bad_blocks`` lists the blocks the node refused as invalid,
    newest last (a validator's; none on the miner)."""

    def __init__(
        self,
        store: ChainStore,
        find: Callable[[int | str | bytes], Block | None],
        bad_blocks: Callable[[], list[Block]] = list,
    ) -> None:
        self.store = store
        self.find = find
        self.bad_blocks = bad_blocks
        self.chain_id = store.config().chain_id

    @method("debug_getBadBlocks")
    def get_bad_blocks(self) -> list[dict[str, Any]]:
        """The blocks this node rejected as invalid, most recent last."""
        return [
            {
                "block": block_json(block, True, self.chain_id),
                "hash": to_data(block.hash),
                "rlp": to_data(raw_block(block)),
            }
            for block in self.bad_blocks()
        ]

    def _block(self, ref: int | str | bytes) -> Block:
        block = self.find(ref)
        if block is None:
            raise RpcError(SERVER_ERROR, "block not found")
        return block

    @method("debug_getRawHeader")
    def raw_header(self, block: BlockRef) -> str:
        return to_data(codec.encode(self._block(block).header.to_rlp()))

    @method("debug_getRawBlock")
    def raw_block(self, block: BlockRef) -> str:
        return to_data(raw_block(self._block(block)))

    @method("debug_getRawReceipts")
    def raw_receipts(self, block: BlockRef) -> list[str]:
        found = self._block(block)
        receipts = self.store.receipts(found.header.number) or []
        return [to_data(e) for e in receipt_encodings(found.transactions, receipts)]

    @method("debug_getRawTransaction")
    def raw_transaction(self, hash: Hash) -> str | None:
        location = self.store.transaction_location(hash)
        if location is None:
            return None
        found = self.store.block(location[0])
        assert found is not None
        return to_data(found.transactions[location[1]])


def raw_block(block: Block) -> bytes:
    """Ethereum's encoding of ``block`` (header, transactions, no uncles or withdrawals)."""
    transactions = [raw if tx_type(raw) else rlp.decode(raw) for raw in block.transactions]
    encoded: bytes = rlp.encode([block.header.to_rlp(), transactions, [], []])
    return encoded
