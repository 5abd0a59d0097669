"""The JSON shapes of blocks, transactions, receipts and logs, exactly as the
execution-apis schemas define them (``Block``, ``TransactionInfo``, ``ReceiptInfo``,
``Log``): nothing outside the schema, so strict clients and validators of the spec
accept them. pavm's own commitments are served by ``pavm_*`` methods instead."""

from dataclasses import dataclass
from typing import Any, cast

from eth.abc import SignedTransactionAPI
from eth_hash.auto import keccak

from common.chain.accounts import contract_address
from common.chain.block import FIXED, Block
from common.chain.receipts import Log, OpReceipt, logs_bloom
from common.evm.forks import decode_transaction
from common.rpc.hexcodec import to_data, to_quantity

LOG_GAS = 375
"""The least gas a log costs (LOG0's own cost): a block holds at most
``gas_limit // LOG_GAS`` logs."""
LOG_JSON = 420
"""Bytes one log object takes at most with no topic and no data, every quantity at
64 bits, its comma included (410). A topic adds 69 bytes for 375 gas more, a data
byte 2 bytes for 8 gas more, so no log takes more bytes per gas than an empty one."""
TX_GAS = 21_000
"""The least gas a transaction costs: a block holds at most ``gas_limit // TX_GAS``."""
RECEIPT_JSON = 1_200
"""Bytes one receipt object takes at most without its logs (1,168, the bloom's 514
characters the most of it)."""


def block_json(block: Block, full: bool, chain_id: int) -> dict[str, Any]:
    """A block object, every header field as keccak(rlp(header)) hashes it; ``full``
    hydrates its transactions."""
    header = block.header
    transactions: list[Any] = [
        tx_json(decode_transaction(raw), chain_id, block, index) if full else to_data(keccak(raw))
        for index, raw in enumerate(block.transactions)
    ]
    return {
        "number": to_quantity(header.number),
        "hash": to_data(header.hash),
        "parentHash": to_data(header.parent_hash),
        "nonce": to_data(FIXED[14]),
        "sha3Uncles": to_data(FIXED[1]),
        "logsBloom": to_data(header.logs_bloom),
        "transactionsRoot": to_data(header.transactions_root),
        "stateRoot": to_data(header.state_root),
        "receiptsRoot": to_data(header.receipts_root),
        "miner": to_data(header.beneficiary),
        "difficulty": "0x0",
        "extraData": to_data(header.extra_data),
        "size": to_quantity(len(block.encode())),
        "gasLimit": to_quantity(header.gas_limit),
        "gasUsed": to_quantity(header.gas_used),
        "timestamp": to_quantity(header.timestamp),
        "transactions": transactions,
        "uncles": [],
        "baseFeePerGas": to_quantity(header.base_fee),
        "mixHash": to_data(FIXED[13]),
        "withdrawals": [],
        "withdrawalsRoot": to_data(FIXED[16]),
        "blobGasUsed": "0x0",
        "excessBlobGas": "0x0",
        "parentBeaconBlockRoot": to_data(FIXED[19]),
        "requestsHash": to_data(FIXED[20]),
    }


def tx_json(
    tx: SignedTransactionAPI, chain_id: int, block: Block | None, index: int | None
) -> dict[str, Any]:
    """A transaction object; ``block`` is ``None`` for one still in the pool."""
    type_id = getattr(tx, "type_id", None) or 0
    out: dict[str, Any] = {
        "hash": to_data(tx.hash),
        "type": to_quantity(type_id),
        "nonce": to_quantity(tx.nonce),
        "blockHash": None if block is None else to_data(block.hash),
        "blockNumber": None if block is None else to_quantity(block.header.number),
        "blockTimestamp": None if block is None else to_quantity(block.header.timestamp),
        "transactionIndex": None if index is None else to_quantity(index),
        "from": to_data(tx.sender),
        "to": to_data(tx.to) if tx.to else None,
        "value": to_quantity(tx.value),
        "gas": to_quantity(tx.gas),
        "input": to_data(tx.data),
        "r": to_quantity(tx.r),
        "s": to_quantity(tx.s),
    }
    if type_id == 0:
        out["gasPrice"] = to_quantity(tx.gas_price)
        out["v"] = to_quantity(cast(Any, tx).v)
        if cast(Any, tx).v >= 35:  # EIP-155: the chain id is part of v
            out["chainId"] = to_quantity(chain_id)
        return out
    base_fee = 0 if block is None else block.header.base_fee
    out["chainId"] = to_quantity(chain_id)
    out["maxFeePerGas"] = to_quantity(tx.max_fee_per_gas)
    out["maxPriorityFeePerGas"] = to_quantity(tx.max_priority_fee_per_gas)
    out["gasPrice"] = to_quantity(effective_price(tx, base_fee) if block else tx.max_fee_per_gas)
    out["accessList"] = [
        {"address": to_data(a), "storageKeys": [to_data(k.to_bytes(32, "big")) for k in ks]}
        for a, ks in tx.access_list
    ]
    if type_id == 1:
        del out["maxFeePerGas"], out["maxPriorityFeePerGas"]
        out["gasPrice"] = to_quantity(tx.gas_price)
    if type_id == 4:
        out["authorizationList"] = [
            {
                "chainId": to_quantity(a.chain_id),
                "address": to_data(a.address),
                "nonce": to_quantity(a.nonce),
                "yParity": to_quantity(a.y_parity),
                "r": to_quantity(a.r),
                "s": to_quantity(a.s),
            }
            for a in cast(Any, tx).authorization_list
        ]
    out["yParity"] = to_quantity(tx.y_parity)
    out["v"] = to_quantity(tx.y_parity)
    return out


def receipt_json(block: Block, index: int, receipts: list[OpReceipt]) -> dict[str, Any]:
    """Transaction ``index``'s receipt in ``block``."""
    tx = decode_transaction(block.transactions[index])
    receipt = receipts[index]
    cumulative = sum(r.gas_used for r in receipts[: index + 1])
    first_log = sum(len(r.logs) for r in receipts[:index])
    place = block_place(block)
    logs = [
        log_json(place, index, tx.hash, first_log + i, log) for i, log in enumerate(receipt.logs)
    ]
    created = contract_address(tx.sender, tx.nonce) if receipt.status and not tx.to else None
    return {
        "transactionHash": to_data(tx.hash),
        "transactionIndex": to_quantity(index),
        "blockHash": to_data(block.hash),
        "blockNumber": to_quantity(block.header.number),
        "from": to_data(tx.sender),
        "to": to_data(tx.to) if tx.to else None,
        "cumulativeGasUsed": to_quantity(cumulative),
        "gasUsed": to_quantity(receipt.gas_used),
        "effectiveGasPrice": to_quantity(effective_price(tx, block.header.base_fee)),
        "contractAddress": to_data(created) if created else None,
        "logs": logs,
        "logsBloom": to_data(logs_bloom(receipt.logs)),
        "type": to_quantity(getattr(tx, "type_id", None) or 0),
        "status": to_quantity(receipt.status),
    }


def receipts_json_bytes(gas_limit: int) -> int:
    """The most bytes a block's receipts take as JSON, all together, when its gas is
    at most ``gas_limit``: every log costs gas, so the gas limit bounds them. What
    ``eth_getBlockReceipts`` may answer, and so one receipt too (invariant 9,
    docs/architecture.md)."""
    return gas_limit // LOG_GAS * LOG_JSON + gas_limit // TX_GAS * RECEIPT_JSON


@dataclass(frozen=True, slots=True)
class BlockPlace:
    """A block's fields as each of its log objects repeats them, spelled once: its hash
    is a keccak of its header, too dear to redo for each of ~80,000 logs."""

    number: str
    hash: str
    timestamp: str


def block_place(block: Block) -> BlockPlace:
    """What :func:`log_json` repeats of ``block``, made once per block or receipt."""
    header = block.header
    return BlockPlace(
        to_quantity(header.number), to_data(block.hash), to_quantity(header.timestamp)
    )


def log_json(
    place: BlockPlace, index: int, tx_hash: bytes, log_index: int, log: Log
) -> dict[str, Any]:
    """One log of transaction ``index``, numbered ``log_index`` within the block."""
    address, topics, data = log
    return {
        "address": to_data(address),
        "topics": [to_data(t) for t in topics],
        "data": to_data(data),
        "blockNumber": place.number,
        "blockHash": place.hash,
        "blockTimestamp": place.timestamp,
        "transactionHash": to_data(tx_hash),
        "transactionIndex": to_quantity(index),
        "logIndex": to_quantity(log_index),
        "removed": False,
    }


def effective_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    """What the sender paid per gas: the gas price, or base fee plus the capped tip."""
    if (getattr(tx, "type_id", None) or 0) in (0, 1):
        return int(tx.gas_price)
    return int(min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas))
