"""The Ethereum JSON-RPC methods a web3.py or ethers client needs, plus ``pavm_*``.

Both services serve these from their own chain store: the miner from the blocks it
mined, a validator from the blocks it validated (with its own receipts). Only the
miner has a transaction pool; without one, ``eth_sendRawTransaction`` is not offered.
"""

import threading
from collections.abc import Callable
from typing import Any, Protocol

from eth.abc import SignedTransactionAPI
from eth.db.account import AccountDB
from eth_hash.auto import keccak
from eth_typing import Address, Hash32

from common.chain.block import Block
from common.chain.state import next_base_fee
from common.evm.forks import FORKS, decode_transaction
from common.evm.recording import OpKind
from common.rpc.calls import Calls
from common.rpc.config import fork_config
from common.rpc.dispatch import MAX_BATCH_RESPONSE, Handler, expect_params
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.fill import SUGGESTED_TIP, filled, unsigned_json
from common.rpc.filters import Filters
from common.rpc.hexcodec import (
    parse_address,
    parse_block_ref,
    parse_block_tag,
    parse_data,
    parse_hash,
    parse_quantity,
    parse_slot,
    to_data,
    to_quantity,
)
from common.rpc.logs import block_range, log_criteria, scan
from common.rpc.proofs import MAX_PROOF_KEYS, account_proof
from common.rpc.raw import RawApi, raw_block
from common.rpc.replay import replay
from common.rpc.simulate import Simulator
from common.rpc.tracing import TraceApi
from common.rpc.views import block_json, receipt_json, receipts_json_bytes, tx_json
from common.rpc.ws import Subscriptions
from common.store.chain import ChainStore

MAX_FEE_HISTORY = 1024
"""Blocks one eth_feeHistory covers at most (go-ethereum's limit)."""
MAX_PERCENTILES = 100
"""Reward percentiles one eth_feeHistory takes at most (go-ethereum's limit)."""
MAX_OPERATIONS = 50_000
"""Operations one ``pavm_getOperationReceipt`` answer holds at most (~200 bytes each)."""
CLIENT_VERSION = "pavm-net/0.1.0/python3.11"
ENVELOPE = 1_000
"""Bytes of a JSON-RPC answer around its result (an id of up to ~950 characters)."""


class Pool(Protocol):
    """What the RPC layer needs of a transaction pool (the miner's)."""

    def add(self, raw: bytes) -> bytes: ...

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int: ...

    def get(self, tx_hash: bytes) -> bytes | None: ...


class EthApi:
    """JSON-RPC handlers over a chain store, guarded by the node's state lock."""

    def __init__(
        self,
        store: ChainStore,
        lock: threading.RLock,
        pool: Pool | None = None,
        node_info: Callable[[], dict[str, Any]] | None = None,
        bad_blocks: Callable[[], list[Block]] | None = None,
    ) -> None:
        self.store = store
        self.lock = lock
        self.pool = pool
        self.node_info = node_info or (lambda: {})
        self.bad_blocks = bad_blocks or list
        """Blocks this node refused as invalid, newest last (a validator's)."""
        self.config = store.config()
        self.calls = Calls(store, self.config, self._block_at)
        self.estimate_gas = self.calls.estimate_gas
        self.filters = Filters(store, self.resolve_number, pending=pool is not None)
        self.subscriptions = Subscriptions(store, self.config.chain_id, pending=pool is not None)

    def methods(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "web3_clientVersion": lambda p: CLIENT_VERSION,
            "net_version": lambda p: str(self.config.chain_id),
            "net_listening": lambda p: True,
            "net_peerCount": lambda p: "0x0",
            "eth_chainId": lambda p: to_quantity(self.config.chain_id),
            "eth_syncing": lambda p: False,
            "eth_accounts": lambda p: [],
            "eth_blockNumber": lambda p: to_quantity(self.store.head_number()),
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "eth_getBlockTransactionCountByNumber": self.block_tx_count,
            "eth_getBlockTransactionCountByHash": self.block_tx_count_by_hash,
            "eth_getTransactionByBlockNumberAndIndex": self.tx_by_number_and_index,
            "eth_getTransactionByBlockHashAndIndex": self.tx_by_hash_and_index,
            "eth_coinbase": self.coinbase,
            "eth_blobBaseFee": lambda p: to_quantity(1),
            "web3_sha3": self.sha3,
            "eth_getBalance": self.get_balance,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_getCode": self.get_code,
            "eth_getStorageAt": self.get_storage_at,
            "eth_getProof": self.get_proof,
            "eth_getStorageValues": self.get_storage_values,
            "eth_call": self.calls.call,
            "eth_estimateGas": self.calls.estimate_gas,
            "eth_createAccessList": self.calls.create_access_list,
            "eth_gasPrice": self.gas_price,
            "eth_maxPriorityFeePerGas": lambda p: to_quantity(SUGGESTED_TIP),
            "eth_baseFee": lambda p: to_quantity(self.next_base_fee()),
            "eth_fillTransaction": self.fill_transaction,
            "eth_capabilities": self.capabilities,
            "eth_feeHistory": self.fee_history,
            "eth_getTransactionByHash": self.get_transaction_by_hash,
            "eth_getTransactionReceipt": self.get_transaction_receipt,
            "eth_getBlockReceipts": self.get_block_receipts,
            "eth_getLogs": self.get_logs,
            "pavm_getBlockRWSet": self.block_rwset,
            "pavm_getBlockGroups": self.block_groups,
            "pavm_getOperationReceipt": self.operation_receipt,
            "pavm_getBlockCommitments": self.block_commitments,
            "pavm_nodeInfo": lambda p: self.node_info(),
        }
        table.update(self.filters.methods())
        table.update(RawApi(self.store, self.find_block).methods())
        table["eth_simulateV1"] = self.simulate
        table["debug_getBadBlocks"] = self.get_bad_blocks
        table["eth_config"] = self.fork_config
        table.update(TraceApi(self.store, self.resolve_number, self.calls.bounded).methods())
        if self.pool is not None:
            table["eth_sendRawTransaction"] = self.send_raw_transaction
        return table

    def response_limits(self) -> dict[str, int]:
        """Answers that may pass the dispatcher's 25 MB: a block's receipts. A block
        can hold ~80,000 logs (~33 MB of JSON) under a 30M gas limit, and a receipt too
        large to send would stay unreadable for good; their size is bounded by the gas
        limit instead (``receipts_json_bytes``; invariant 9, docs/architecture.md)."""
        most = max(MAX_BATCH_RESPONSE, receipts_json_bytes(self.config.gas_limit) + ENVELOPE)
        return dict.fromkeys(("eth_getTransactionReceipt", "eth_getBlockReceipts"), most)

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

    def find_block(self, value: Any, name: str = "block") -> Block | None:
        """The block a block parameter names (number, tag, hash or EIP-1898 object),
        ``None`` when there is none."""
        ref = parse_block_ref(value, name)
        if isinstance(ref, bytes):
            number = self.store.number_of(ref)
            return None if number is None else self.store.block(number)
        return self.store.block(self.resolve_number(ref))

    def _block_at(self, value: Any, name: str = "block") -> Block:
        """As :meth:`find_block`, but a missing block is go-ethereum's error."""
        block = self.find_block(value, name)
        if block is None:
            hashed = isinstance(value, dict) and "blockHash" in value
            hashed = hashed or (isinstance(value, str) and len(value) == 66)
            raise RpcError(
                SERVER_ERROR, "header for hash not found" if hashed else "header not found"
            )
        return block

    def _by_hash(self, value: Any) -> Block | None:
        number = self.store.number_of(parse_hash(value, "hash"))
        return None if number is None else self.store.block(number)

    def _by_number(self, value: Any) -> Block | None:
        return self.store.block(self.resolve_number(parse_block_tag(value, "block")))

    def get_block_by_number(self, params: list[Any]) -> Any:
        tag, full = expect_params(params, 2)
        block = self._by_number(tag)
        return None if block is None else self.block_json(block, bool(full))

    def get_block_by_hash(self, params: list[Any]) -> Any:
        value, full = expect_params(params, 2)
        block = self._by_hash(value)
        return None if block is None else self.block_json(block, bool(full))

    def block_tx_count(self, params: list[Any]) -> Any:
        (tag,) = expect_params(params, 1)
        block = self._by_number(tag)
        return None if block is None else to_quantity(len(block.transactions))

    def block_tx_count_by_hash(self, params: list[Any]) -> Any:
        (value,) = expect_params(params, 1)
        block = self._by_hash(value)
        return None if block is None else to_quantity(len(block.transactions))

    def tx_by_number_and_index(self, params: list[Any]) -> Any:
        tag, index = expect_params(params, 2)
        return self._tx_in(self._by_number(tag), index)

    def tx_by_hash_and_index(self, params: list[Any]) -> Any:
        value, index = expect_params(params, 2)
        return self._tx_in(self._by_hash(value), index)

    def _tx_in(self, block: Block | None, index_value: Any) -> Any:
        index = parse_quantity(index_value, "index", limit=2**64 - 1)
        if block is None or index >= len(block.transactions):
            return None
        return self.tx_json(decode_transaction(block.transactions[index]), block, index)

    def coinbase(self, params: list[Any]) -> Any:
        """The address blocks pay fees to: the miner's."""
        head = self.store.block(self.store.head_number())
        assert head is not None
        return to_data(head.header.beneficiary)

    @staticmethod
    def sha3(params: list[Any]) -> Any:
        (value,) = expect_params(params, 1)
        return to_data(keccak(parse_data(value, "data")))

    def block_json(self, block: Block, full: bool) -> dict[str, Any]:
        return block_json(block, full, self.config.chain_id)

    def tx_json(
        self, tx: SignedTransactionAPI, block: Block | None, index: int | None
    ) -> dict[str, Any]:
        return tx_json(tx, self.config.chain_id, block, index)

    # -- state ---------------------------------------------------------------------------

    def _accounts(self, tag_value: Any) -> AccountDB:
        block = self._block_at(tag_value)
        return AccountDB(self.store.db, Hash32(block.header.state_root))

    def get_balance(self, params: list[Any]) -> Any:
        address, tag = expect_params(params, 1, 1)
        address = parse_address(address, "address")
        with self.lock:
            return to_quantity(self._accounts(tag or "latest").get_balance(Address(address)))

    def get_transaction_count(self, params: list[Any]) -> Any:
        address, tag = expect_params(params, 1, 1)
        address = parse_address(address, "address")
        tag = tag or "latest"
        with self.lock:
            nonce = self._accounts(tag).get_nonce(Address(address))
            if tag == "pending" and self.pool is not None:
                nonce = self.pool.pending_nonce(address, nonce)
        return to_quantity(nonce)

    def get_code(self, params: list[Any]) -> Any:
        address, tag = expect_params(params, 1, 1)
        address = parse_address(address, "address")
        with self.lock:
            return to_data(self._accounts(tag or "latest").get_code(Address(address)))

    def get_storage_at(self, params: list[Any]) -> Any:
        address, slot, tag = expect_params(params, 2, 1)
        address = parse_address(address, "address")
        key = parse_slot(slot, "slot")
        with self.lock:
            value = self._accounts(tag or "latest").get_storage(Address(address), key)
        return to_data(value.to_bytes(32, "big"))

    def get_storage_values(self, params: list[Any]) -> Any:
        """Many slots of many accounts at one block, in one call."""
        requests, tag = expect_params(params, 1, 1)
        if not isinstance(requests, dict):
            raise invalid_params("invalid argument 0: address -> slots object expected")
        wanted = [(parse_address(address, "address"), slots) for address, slots in requests.items()]
        if any(not isinstance(slots, list) for _, slots in wanted):
            raise invalid_params("invalid argument 0: each address takes a list of slots")
        if sum(len(slots) for _, slots in wanted) > MAX_PROOF_KEYS:
            raise invalid_params(f"invalid argument 0: at most {MAX_PROOF_KEYS} slots")
        keys = [(a, [parse_slot(v, "slot") for v in slots]) for a, slots in wanted]
        with self.lock:
            accounts = self._accounts(tag or "latest")
            return {
                to_data(address): [
                    to_data(accounts.get_storage(Address(address), k).to_bytes(32, "big"))
                    for k in slots
                ]
                for address, slots in keys
            }

    def get_proof(self, params: list[Any]) -> Any:
        address, keys, tag = expect_params(params, 3)
        address = parse_address(address, "address")
        with self.lock:
            block = self._block_at(tag)
            return account_proof(self.store.db, block.header.state_root, address, keys)

    def fork_config(self, params: list[Any]) -> Any:
        expect_params(params, 0)
        genesis = self.store.block(0)
        assert genesis is not None
        precompiles = {bytes(a) for a in FORKS[self.config.fork].computation.get_precompiles()}
        return fork_config(self.config.chain_id, genesis.hash, precompiles)

    def get_bad_blocks(self, params: list[Any]) -> Any:
        """The blocks this node rejected as invalid, most recent last."""
        expect_params(params, 0)
        return [
            {
                "block": self.block_json(block, True),
                "hash": to_data(block.hash),
                "rlp": to_data(raw_block(block)),
            }
            for block in self.bad_blocks()
        ]

    def simulate(self, params: list[Any]) -> Any:
        """eth_simulateV1 (``common/rpc/simulate.py``), as bounded as eth_call."""
        with self.calls.bounded():
            return Simulator(self.store, self._block_at).simulate(params)

    def next_base_fee(self) -> int:
        """The base fee the next block will have."""
        head = self.store.block(self.store.head_number())
        assert head is not None
        return next_base_fee(head.header, self.config)

    def gas_price(self, params: list[Any]) -> Any:
        return to_quantity(self.next_base_fee() + SUGGESTED_TIP)

    def fill_transaction(self, params: list[Any]) -> Any:
        """The request with what a wallet would fill in, unsigned (no key is needed)."""
        (request,) = expect_params(params, 1)
        if not isinstance(request, dict):
            raise invalid_params("invalid argument 0: transaction object expected")
        sender = parse_address(request["from"], "from") if request.get("from") else bytes(20)
        return {"tx": unsigned_json(filled(self, request, sender))}

    def capabilities(self, params: list[Any]) -> Any:
        """What history this node serves: all of it, from genesis, never pruned."""
        head = self.store.block(self.store.head_number())
        assert head is not None
        kept = {"disabled": False, "oldestBlock": "0x0"}
        return {
            "head": {"number": to_quantity(head.header.number), "hash": to_data(head.hash)},
            **{name: dict(kept) for name in ("blocks", "logs", "receipts", "state", "tx")},
            "stateproofs": dict(kept),
        }

    def fee_history(self, params: list[Any]) -> Any:
        count, newest, percentiles = expect_params(params, 2, 1)
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            count = min(count, MAX_FEE_HISTORY)
        else:
            count = min(parse_quantity(count, "blockCount"), MAX_FEE_HISTORY)
        percentiles = _reward_percentiles(percentiles)
        with self.lock:
            last = min(
                self.resolve_number(parse_block_tag(newest, "newestBlock")),
                self.store.head_number(),
            )
            first = max(0, last - count + 1)
            base_fees, ratios, rewards = [], [], []
            for number in range(first, last + 1):
                block = self.store.block(number)
                assert block is not None
                header = block.header
                base_fees.append(to_quantity(header.base_fee))
                ratios.append(header.gas_used / header.gas_limit if header.gas_limit else 0)
                if percentiles:
                    rewards.append(self._rewards(block, list(percentiles)))
            after = self.store.block(last)
            assert after is not None
            base_fees.append(to_quantity(next_base_fee(after.header, self.config)))
        result: dict[str, Any] = {
            "oldestBlock": to_quantity(first),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
        }
        if percentiles:
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

    def send_raw_transaction(self, params: list[Any]) -> Any:
        (raw,) = expect_params(params, 1)
        data = parse_data(raw, "data")
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

    def get_transaction_by_hash(self, params: list[Any]) -> Any:
        (value,) = expect_params(params, 1)
        tx_hash = parse_hash(value, "hash")
        found = self._located(tx_hash)
        if found is not None:
            block, index = found
            return self.tx_json(decode_transaction(block.transactions[index]), block, index)
        raw = self.pool.get(tx_hash) if self.pool is not None else None
        return None if raw is None else self.tx_json(decode_transaction(raw), None, None)

    def get_transaction_receipt(self, params: list[Any]) -> Any:
        (value,) = expect_params(params, 1)
        found = self._located(parse_hash(value, "hash"))
        if found is None:
            return None
        block, index = found
        receipts = self.store.receipts(block.header.number) or []
        return receipt_json(block, index, receipts)

    def get_block_receipts(self, params: list[Any]) -> Any:
        """Every receipt of one block in one call, as go-ethereum serves it: what load
        generators use to learn the outcome of a whole block's transactions."""
        (tag,) = expect_params(params, 1)
        block = self.find_block(tag)  # a number, tag or hash, as geth takes
        if block is None:
            return None
        receipts = self.store.receipts(block.header.number) or []
        return [receipt_json(block, i, receipts) for i in range(len(block.transactions))]

    def get_logs(self, params: list[Any]) -> Any:
        (query,) = expect_params(params, 1)
        criteria = log_criteria(query)
        first, last = block_range(criteria, self.store, self.resolve_number)
        return scan(self.store, criteria, first, last)

    # -- pavm --------------------------------------------------------------------------------

    def block_rwset(self, params: list[Any]) -> Any:
        (tag,) = expect_params(params, 1)
        block = self._block_at(tag)
        return [_rwset_json(r) for r in block.rwsets]

    def operation_receipt(self, params: list[Any]) -> Any:
        """The transaction's recorded operations, replayed as eth_call runs: in a call
        slot, within the call deadline, outside the node's lock (invariant 9,
        docs/architecture.md), so it never holds up mining or validation. Unlocked
        reads are safe: what a replay reads (a stored block, its ancestors' headers,
        trie nodes, content-addressed) is written once and never changed, and an LMDB
        read sees only committed data.

        Operations come in pages of at most ``MAX_OPERATIONS`` (about 10 MB), so a
        transaction of millions of cheap reads stays readable: the optional second
        parameter ``{"offset": n, "limit": m}`` picks the page, and ``nextOffset``
        says where the next one starts (absent on the last)."""
        value, page = expect_params(params, 1, 1)
        tx_hash = parse_hash(value, "hash")
        offset, limit = _operation_page(page)
        with self.calls.bounded():
            replayed = replay(self.store, tx_hash)
        if replayed is None:
            return None
        receipt = replayed.outcome.receipt
        ops = replayed.outcome.ops
        shown = ops[offset : offset + limit]
        paging: dict[str, Any] = {"operationCount": len(ops)}
        if offset + limit < len(ops):
            paging["nextOffset"] = offset + limit
        return {
            "transactionHash": to_data(tx_hash),
            "blockNumber": to_quantity(replayed.number),
            "transactionIndex": to_quantity(replayed.index),
            "group": replayed.group,
            "status": to_quantity(receipt.status),
            "gasUsed": to_quantity(receipt.gas_used),
            "readHash": to_data(receipt.read_hash),
            "writeHash": to_data(receipt.write_hash),
            "operations": [_op_json(op) for op in shown],
            **paging,
        }

    def block_commitments(self, params: list[Any]) -> Any:
        """pavm's header commitments and each transaction's operation-receipt hashes:
        what a standard block or receipt object has no field for."""
        (tag,) = expect_params(params, 1)
        block = self._block_at(tag)
        header = block.header
        receipts = self.store.receipts(header.number) or []
        return {
            "blockHash": to_data(block.hash),
            "operationReceiptsRoot": to_data(header.op_receipts_root),
            "rwsetHash": to_data(header.rwset_hash),
            "groupsHash": to_data(header.groups_hash),
            "groups": len(block.groups),
            "receipts": [
                {"readHash": to_data(r.read_hash), "writeHash": to_data(r.write_hash)}
                for r in receipts
            ],
        }

    def block_groups(self, params: list[Any]) -> Any:
        (tag,) = expect_params(params, 1)
        block = self._block_at(tag)
        return [
            {"transactions": list(members), "gas": to_quantity(gas)}
            for members, gas in zip(block.groups, block.group_gas, strict=True)
        ]


def _operation_page(page: Any) -> tuple[int, int]:
    """(offset, limit) of ``pavm_getOperationReceipt``'s optional page object."""
    if page is None:
        return 0, MAX_OPERATIONS
    if not isinstance(page, dict) or set(page) - {"offset", "limit"}:
        raise invalid_params('invalid argument 1: a page is {"offset": n, "limit": m}')
    offset, limit = page.get("offset", 0), page.get("limit", MAX_OPERATIONS)
    for name, number in (("offset", offset), ("limit", limit)):
        if type(number) is not int or number < 0:
            raise invalid_params(f"invalid argument 1: {name} must be an integer >= 0")
    if not 0 < limit <= MAX_OPERATIONS:
        raise invalid_params(f"invalid argument 1: limit must be in [1, {MAX_OPERATIONS}]")
    return offset, limit


def _op_json(op: tuple[int, bytes, int, Any]) -> dict[str, Any]:
    kind, address, slot, value = op
    out: dict[str, Any] = {"op": OpKind(kind).name.lower(), "address": to_data(address)}
    if slot:
        out["slot"] = to_quantity(slot)
    if isinstance(value, bool):
        out["value"] = value
    elif isinstance(value, int):
        out["value"] = to_quantity(value)
    elif isinstance(value, bytes):
        out["value"] = to_data(value)
    return out


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


def _rwset_json(rwset: Any) -> dict[str, Any]:
    return {
        "reads": [
            {"address": to_data(a), "fields": fields, "slots": [to_quantity(s) for s in slots]}
            for a, (fields, slots) in sorted(rwset.reads.items())
        ],
        "writes": [
            {
                "address": to_data(a),
                "flags": w.flags,
                "balance": to_quantity(w.balance),
                "nonce": to_quantity(w.nonce),
                "code": to_data(w.code),
                "storage": {to_quantity(k): to_quantity(v) for k, v in sorted(w.storage.items())},
            }
            for a, w in sorted(rwset.writes.items())
        ],
        "readsBeneficiary": rwset.reads_beneficiary,
    }


__all__ = ["EthApi", "Pool"]
