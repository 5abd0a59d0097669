"""The ``eth_*`` namespace: blocks, state, transactions and fees as web3.py and
ethers clients read them.

Both services serve these from their own chain store: the miner from the blocks it
mined, a validator from the blocks it validated (with its own receipts). Only the
miner has a transaction pool; without one, ``eth_sendRawTransaction`` is not offered.
Calls (``common/rpc/calls.py``) and filters (``common/rpc/filters.py``) are
namespaces of their own, made here because they read the same store.
"""

import threading
from typing import Annotated, Any, Protocol

import eth_typing
from eth.abc import SignedTransactionAPI
from eth.db.account import AccountDB

from common.chain.block import Block
from common.chain.state import next_base_fee
from common.evm.forks import FORKS, decode_transaction
from common.rpc.calls import Calls
from common.rpc.config import fork_config
from common.rpc.dispatch import MAX_BATCH_RESPONSE
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.fill import SUGGESTED_TIP, filled, unsigned_json
from common.rpc.filters import Filters
from common.rpc.hexcodec import parse_address, parse_quantity, parse_slot, to_data, to_quantity
from common.rpc.logs import block_range, log_criteria, scan
from common.rpc.namespace import Namespace, method
from common.rpc.params import (
    Address,
    BlockRef,
    BlockTag,
    Data,
    Flag,
    Hash,
    Parsed,
    Raw,
    Slot,
    Uint64,
)
from common.rpc.proofs import MAX_PROOF_KEYS, account_proof
from common.rpc.simulate import Simulator
from common.rpc.views import block_json, receipt_json, receipts_json_bytes, tx_json
from common.rpc.ws import Subscriptions
from common.store.chain import ChainStore

MAX_FEE_HISTORY = 1024
"""Blocks one eth_feeHistory covers at most (go-ethereum's limit)."""
MAX_PERCENTILES = 100
"""Reward percentiles one eth_feeHistory takes at most (go-ethereum's limit)."""
ENVELOPE = 1_000
"""Bytes of a JSON-RPC answer around its result (an id of up to ~950 characters)."""


class Pool(Protocol):
    """What the RPC layer needs of a transaction pool (the miner's)."""

    def add(self, raw: bytes) -> bytes: ...

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int: ...

    def get(self, tx_hash: bytes) -> bytes | None: ...


def _block_count(value: Any, name: str) -> int:
    """eth_feeHistory's block count: a quantity, or a JSON number as some clients send."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return min(value, MAX_FEE_HISTORY)
    return min(parse_quantity(value, name), MAX_FEE_HISTORY)


class EthApi(Namespace):
    """The ``eth_*`` methods over a chain store, guarded by the node's state lock."""

    def __init__(self, store: ChainStore, lock: threading.RLock, pool: Pool | None = None) -> None:
        self.store = store
        self.lock = lock
        self.pool = pool
        self.config = store.config()
        self.calls = Calls(store, self.config, self.block_at)
        self.filters = Filters(store, self.resolve_number, pending=pool is not None)
        self.subscriptions = Subscriptions(store, self.config.chain_id, pending=pool is not None)

    def response_limits(self) -> dict[str, int]:
        """Answers that may pass the dispatcher's 25 MB: a block's receipts. A block
        can hold ~80,000 logs (~33 MB of JSON) under a 30M gas limit, and a receipt too
        large to send would stay unreadable for good; their size is bounded by the gas
        limit instead (``receipts_json_bytes``; invariant 9, docs/architecture.md)."""
        most = max(MAX_BATCH_RESPONSE, receipts_json_bytes(self.config.gas_limit) + ENVELOPE)
        return dict.fromkeys(("eth_getTransactionReceipt", "eth_getBlockReceipts"), most)

    # -- chain -------------------------------------------------------------------------

    @method("eth_chainId")
    def chain_id(self) -> str:
        return to_quantity(self.config.chain_id)

    @method("eth_syncing")
    def syncing(self) -> bool:
        return False

    @method("eth_accounts")
    def accounts(self) -> list[str]:
        """None: a node holds no keys (a dev miner's namespace lists its own)."""
        return []

    @method("eth_blockNumber")
    def block_number(self) -> str:
        return to_quantity(self.store.head_number())

    @method("eth_config")
    def fork_config(self) -> Any:
        genesis = self.store.block(0)
        assert genesis is not None
        precompiles = {bytes(a) for a in FORKS[self.config.fork].computation.get_precompiles()}
        return fork_config(self.config.chain_id, genesis.hash, precompiles)

    @method("eth_capabilities")
    def capabilities(self) -> dict[str, Any]:
        """What history this node serves: all of it, from genesis, never pruned."""
        head = self.store.block(self.store.head_number())
        assert head is not None
        kept = {"disabled": False, "oldestBlock": "0x0"}
        return {
            "head": {"number": to_quantity(head.header.number), "hash": to_data(head.hash)},
            **{name: dict(kept) for name in ("blocks", "logs", "receipts", "state", "tx")},
            "stateproofs": dict(kept),
        }

    # -- blocks ------------------------------------------------------------------------

    def resolve_number(self, tag: int | str) -> int:
        """The block number a parsed tag stands for (``pending`` is the head here)."""
        head = self.store.head_number()
        if tag in ("latest", "pending"):
            return head
        if tag == "earliest":
            return 0
        assert isinstance(tag, int)
        return tag

    def find_block(self, ref: int | str | bytes) -> Block | None:
        """The block a parsed block parameter names (number, tag or hash), ``None``
        when there is none."""
        if isinstance(ref, bytes):
            number = self.store.number_of(ref)
            return None if number is None else self.store.block(number)
        return self.store.block(self.resolve_number(ref))

    def block_at(self, ref: int | str | bytes) -> Block:
        """As :meth:`find_block`, but a missing block is go-ethereum's error."""
        block = self.find_block(ref)
        if block is None:
            raise RpcError(
                SERVER_ERROR,
                "header for hash not found" if isinstance(ref, bytes) else "header not found",
            )
        return block

    def _by_hash(self, block_hash: bytes) -> Block | None:
        number = self.store.number_of(block_hash)
        return None if number is None else self.store.block(number)

    @method("eth_getBlockByNumber")
    def get_block_by_number(self, block: BlockTag, full: Flag) -> Any:
        found = self.store.block(self.resolve_number(block))
        return None if found is None else self.block_json(found, full)

    @method("eth_getBlockByHash")
    def get_block_by_hash(self, hash: Hash, full: Flag) -> Any:
        found = self._by_hash(hash)
        return None if found is None else self.block_json(found, full)

    @method("eth_getBlockTransactionCountByNumber")
    def block_tx_count(self, block: BlockTag) -> str | None:
        found = self.store.block(self.resolve_number(block))
        return None if found is None else to_quantity(len(found.transactions))

    @method("eth_getBlockTransactionCountByHash")
    def block_tx_count_by_hash(self, hash: Hash) -> str | None:
        found = self._by_hash(hash)
        return None if found is None else to_quantity(len(found.transactions))

    @method("eth_getTransactionByBlockNumberAndIndex")
    def tx_by_number_and_index(self, block: BlockTag, index: Uint64) -> Any:
        return self._tx_in(self.store.block(self.resolve_number(block)), index)

    @method("eth_getTransactionByBlockHashAndIndex")
    def tx_by_hash_and_index(self, hash: Hash, index: Uint64) -> Any:
        return self._tx_in(self._by_hash(hash), index)

    def _tx_in(self, block: Block | None, index: int) -> Any:
        if block is None or index >= len(block.transactions):
            return None
        return self.tx_json(decode_transaction(block.transactions[index]), block, index)

    @method("eth_coinbase")
    def coinbase(self) -> str:
        """The address blocks pay fees to: the miner's."""
        head = self.store.block(self.store.head_number())
        assert head is not None
        return to_data(head.header.beneficiary)

    def block_json(self, block: Block, full: bool) -> dict[str, Any]:
        return block_json(block, full, self.config.chain_id)

    def tx_json(
        self, tx: SignedTransactionAPI, block: Block | None, index: int | None
    ) -> dict[str, Any]:
        return tx_json(tx, self.config.chain_id, block, index)

    # -- state ---------------------------------------------------------------------------

    def _accounts(self, block: int | str | bytes) -> AccountDB:
        found = self.block_at(block)
        return AccountDB(self.store.db, eth_typing.Hash32(found.header.state_root))

    @method("eth_getBalance")
    def get_balance(self, address: Address, block: BlockRef = "latest") -> str:
        with self.lock:
            return to_quantity(self._accounts(block).get_balance(eth_typing.Address(address)))

    @method("eth_getTransactionCount")
    def get_transaction_count(self, address: Address, block: BlockRef = "latest") -> str:
        with self.lock:
            nonce = self._accounts(block).get_nonce(eth_typing.Address(address))
            if block == "pending" and self.pool is not None:
                nonce = self.pool.pending_nonce(address, nonce)
        return to_quantity(nonce)

    @method("eth_getCode")
    def get_code(self, address: Address, block: BlockRef = "latest") -> str:
        with self.lock:
            return to_data(self._accounts(block).get_code(eth_typing.Address(address)))

    @method("eth_getStorageAt")
    def get_storage_at(self, address: Address, slot: Slot, block: BlockRef = "latest") -> str:
        with self.lock:
            value = self._accounts(block).get_storage(eth_typing.Address(address), slot)
        return to_data(value.to_bytes(32, "big"))

    @method("eth_getStorageValues")
    def get_storage_values(self, requests: Raw, block: BlockRef = "latest") -> Any:
        """Many slots of many accounts at one block, in one call."""
        if not isinstance(requests, dict):
            raise invalid_params("invalid argument 0: address -> slots object expected")
        wanted = [(parse_address(address, "address"), slots) for address, slots in requests.items()]
        if any(not isinstance(slots, list) for _, slots in wanted):
            raise invalid_params("invalid argument 0: each address takes a list of slots")
        if sum(len(slots) for _, slots in wanted) > MAX_PROOF_KEYS:
            raise invalid_params(f"invalid argument 0: at most {MAX_PROOF_KEYS} slots")
        keys = [(a, [parse_slot(v, "slot") for v in slots]) for a, slots in wanted]
        with self.lock:
            accounts = self._accounts(block)
            return {
                to_data(address): [
                    to_data(
                        accounts.get_storage(eth_typing.Address(address), k).to_bytes(32, "big")
                    )
                    for k in slots
                ]
                for address, slots in keys
            }

    @method("eth_getProof")
    def get_proof(self, address: Address, keys: Raw, block: BlockRef) -> Any:
        with self.lock:
            found = self.block_at(block)
            return account_proof(self.store.db, found.header.state_root, address, keys)

    @method("eth_simulateV1")
    def simulate(self, payload: Raw, block: BlockRef = "latest") -> Any:
        """eth_simulateV1 (``common/rpc/simulate.py``), as bounded as eth_call."""
        with self.calls.bounded():
            return Simulator(self.store, self.block_at).simulate(payload, block)

    # -- fees ------------------------------------------------------------------------------

    def next_base_fee(self) -> int:
        """The base fee the next block will have."""
        head = self.store.block(self.store.head_number())
        assert head is not None
        return next_base_fee(head.header, self.config)

    @method("eth_gasPrice")
    def gas_price(self) -> str:
        return to_quantity(self.next_base_fee() + SUGGESTED_TIP)

    @method("eth_maxPriorityFeePerGas")
    def max_priority_fee(self) -> str:
        return to_quantity(SUGGESTED_TIP)

    @method("eth_baseFee")
    def base_fee(self) -> str:
        return to_quantity(self.next_base_fee())

    @method("eth_blobBaseFee")
    def blob_base_fee(self) -> str:
        """The least a blob fee can be: no block here carries blobs."""
        return to_quantity(1)

    @method("eth_fillTransaction")
    def fill_transaction(self, request: Raw) -> dict[str, Any]:
        """The request with what a wallet would fill in, unsigned (no key is needed)."""
        if not isinstance(request, dict):
            raise invalid_params("invalid argument 0: transaction object expected")
        sender = parse_address(request["from"], "from") if request.get("from") else bytes(20)
        return {"tx": unsigned_json(filled(self, request, sender))}

    def estimate_gas(self, call: Any) -> int:
        """Gas ``call`` needs at the head (what :func:`filled` asks)."""
        return int(self.calls.estimate_gas(call), 16)

    @method("eth_feeHistory")
    def fee_history(
        self,
        block_count: Annotated[int, Parsed(_block_count)],
        newest_block: BlockTag,
        percentiles: Raw = None,
    ) -> dict[str, Any]:
        rewarded = _reward_percentiles(percentiles)
        with self.lock:
            last = min(self.resolve_number(newest_block), self.store.head_number())
            first = max(0, last - block_count + 1)
            base_fees, ratios, rewards = [], [], []
            for number in range(first, last + 1):
                block = self.store.block(number)
                assert block is not None
                header = block.header
                base_fees.append(to_quantity(header.base_fee))
                ratios.append(header.gas_used / header.gas_limit if header.gas_limit else 0)
                if rewarded:
                    rewards.append(self._rewards(block, rewarded))
            after = self.store.block(last)
            assert after is not None
            base_fees.append(to_quantity(next_base_fee(after.header, self.config)))
        result: dict[str, Any] = {
            "oldestBlock": to_quantity(first),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
        }
        if rewarded:
            result["reward"] = rewards
        return result

    def _rewards(self, block: Block, percentiles: list[float]) -> list[str]:
        receipts = self.store.receipts(block.header.number) or []
        tips = sorted(
            (
                min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - block.header.base_fee),
                r.gas_used,
            )
            for tx, r in zip(map(decode_transaction, block.transactions), receipts, strict=True)
        )
        if not tips:
            return ["0x0" for _ in percentiles]
        total = sum(gas for _, gas in tips)
        out = []
        for p in percentiles:
            threshold, seen = total * float(p) / 100, 0
            chosen = tips[-1][0]
            for tip, gas in tips:
                seen += gas
                if seen >= threshold:
                    chosen = tip
                    break
            out.append(to_quantity(chosen))
        return out

    # -- transactions ----------------------------------------------------------------------

    @method("eth_sendRawTransaction", when=lambda eth: eth.pool is not None)
    def send_raw_transaction(self, data: Data) -> str:
        assert self.pool is not None
        tx_hash = self.pool.add(data)
        self.filters.transaction_added(tx_hash)
        self.subscriptions.transaction_added(tx_hash)
        return to_data(tx_hash)

    def _located(self, tx_hash: bytes) -> tuple[Block, int] | None:
        location = self.store.transaction_location(tx_hash)
        if location is None:
            return None
        block = self.store.block(location[0])
        return None if block is None else (block, location[1])

    @method("eth_getTransactionByHash")
    def get_transaction_by_hash(self, hash: Hash) -> Any:
        found = self._located(hash)
        if found is not None:
            block, index = found
            return self.tx_json(decode_transaction(block.transactions[index]), block, index)
        raw = self.pool.get(hash) if self.pool is not None else None
        return None if raw is None else self.tx_json(decode_transaction(raw), None, None)

    @method("eth_getTransactionReceipt")
    def get_transaction_receipt(self, hash: Hash) -> Any:
        found = self._located(hash)
        if found is None:
            return None
        block, index = found
        receipts = self.store.receipts(block.header.number) or []
        return receipt_json(block, index, receipts)

    @method("eth_getBlockReceipts")
    def get_block_receipts(self, block: BlockRef) -> Any:
        """Every receipt of one block in one call, as go-ethereum serves it: what load
        generators use to learn the outcome of a whole block's transactions."""
        found = self.find_block(block)  # a number, tag or hash, as geth takes
        if found is None:
            return None
        receipts = self.store.receipts(found.header.number) or []
        return [receipt_json(found, i, receipts) for i in range(len(found.transactions))]

    @method("eth_getLogs")
    def get_logs(self, query: Raw) -> list[Any]:
        criteria = log_criteria(query)
        first, last = block_range(criteria, self.store, self.resolve_number)
        return scan(self.store, criteria, first, last)


def _reward_percentiles(value: Any) -> list[float]:
    """eth_feeHistory's percentiles: at most 100 finite numbers in [0, 100], ascending."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_params("invalid argument 2: reward percentiles must be a list")
    if len(value) > MAX_PERCENTILES:
        raise invalid_params(
            f"too many reward percentiles: {len(value)}, at most {MAX_PERCENTILES}"
        )
    previous = 0.0
    for p in value:
        if (
            isinstance(p, bool)
            or not isinstance(p, int | float)
            or not 0 <= p <= 100
            or p < previous
        ):
            raise invalid_params(f"invalid reward percentile: {p!r} (ascending, in [0, 100])")
        previous = p
    return [float(p) for p in value]


__all__ = ["EthApi", "Pool"]
