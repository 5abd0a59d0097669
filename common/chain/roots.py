"""Ethereum's standard block commitments, as every Ethereum tool recomputes them: the
transactions trie, the receipts trie and the logs bloom (the Yellow Paper's and
EIP-2718's encodings).

Both tries map rlp(index) to an item's network encoding: a transaction as it is
sent; a receipt as ``rlp([status, cumulative gas, bloom, logs])``, prefixed with the
transaction's type byte when the transaction is typed.
"""

from collections.abc import Sequence
from typing import NamedTuple

import rlp
from eth.constants import BLANK_ROOT_HASH
from trie.hexary import HexaryTrie

from common.chain.receipts import Log, OpReceipt, logs_bloom, op_receipts_root


def trie_root(items: Sequence[bytes]) -> bytes:
    """Root of the trie of rlp(index) -> item."""
    trie = HexaryTrie({}, BLANK_ROOT_HASH)
    with trie.squash_changes() as batch:
        for index, item in enumerate(items):
            batch[rlp.encode(index)] = item
    return bytes(trie.root_hash)


def transactions_root(transactions: Sequence[bytes]) -> bytes:
    """The standard transactions root of network-encoded transactions."""
    return trie_root(transactions)


def receipt_encoding(tx_type: int, status: int, cumulative_gas: int, logs: Sequence[Log]) -> bytes:
    """A standard receipt's network encoding."""
    body: bytes = rlp.encode(
        [
            b"\x01" if status else b"",
            cumulative_gas,
            logs_bloom(logs),
            [[address, list(topics), data] for address, topics, data in logs],
        ]
    )
    return body if tx_type == 0 else bytes([tx_type]) + body


def tx_type(raw: bytes) -> int:
    """The EIP-2718 type of a network-encoded transaction (0: legacy)."""
    return raw[0] if raw and raw[0] <= 0x7F else 0


def receipt_encodings(transactions: Sequence[bytes], receipts: Sequence[OpReceipt]) -> list[bytes]:
    """Each transaction's standard receipt, with the block's cumulative gas."""
    cumulative = 0
    encoded = []
    for raw, receipt in zip(transactions, receipts, strict=True):
        cumulative += receipt.gas_used
        encoded.append(receipt_encoding(tx_type(raw), receipt.status, cumulative, receipt.logs))
    return encoded


def receipts_root(transactions: Sequence[bytes], receipts: Sequence[OpReceipt]) -> bytes:
    """The standard receipts root of a block's transactions and their outcomes."""
    return trie_root(receipt_encodings(transactions, receipts))


def block_bloom(receipts: Sequence[OpReceipt]) -> bytes:
    """The header's logs bloom: every log of the block."""
    return logs_bloom(log for receipt in receipts for log in receipt.logs)


class ReceiptCommitments(NamedTuple):
    """The header fields that commit to a block's outcomes, standard and pavm's: what
    the miner seals and what a validator recomputes."""

    receipts_root: bytes
    logs_bloom: bytes
    op_receipts_root: bytes


def receipt_commitments(
    transactions: Sequence[bytes], receipts: Sequence[OpReceipt]
) -> ReceiptCommitments:
    return ReceiptCommitments(
        receipts_root(transactions, receipts), block_bloom(receipts), op_receipts_root(receipts)
    )
