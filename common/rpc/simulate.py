"""``eth_simulateV1``: calls run in a sequence of simulated blocks on top of a stored
block, with state and block overrides, as the execution-apis specification defines
it. Nothing is stored and no validator sees it: it is a richer ``eth_call``.

Each simulated block gets a header built like a mined one (standard transactions and
receipts roots, logs bloom; pavm's commitments zero and no seal, since no miner
made it) so its hash is keccak(rlp(header)) of the fields reported. Calls are
unsigned: their transactions carry a zero signature and the caller's ``from``.
Without ``validation`` a call runs like ``eth_call`` (its sender's nonce, no fees);
with it, nonce, fees and balance are checked and fail with the spec's -380xx codes.
``traceTransfers`` and the ``prevRandao``, ``blobBaseFee`` and
``movePrecompileToAddress`` overrides are not offered (-32602).
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from eth.abc import SignedTransactionAPI
from eth.exceptions import Revert
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_hash.auto import keccak
from eth_typing import Address

from common.chain.block import Block, Header
from common.chain.receipts import OpReceipt
from common.chain.roots import receipt_commitments, transactions_root
from common.chain.state import next_base_fee
from common.evm.forks import decode_transaction, gas_used_by
from common.rpc.errors import RpcError, invalid_params
from common.rpc.hexcodec import parse_address, parse_data, parse_hash, parse_quantity, to_data
from common.rpc.timed_call import timed_state
from common.rpc.views import block_json, block_place, log_json, tx_json
from common.store.chain import ChainStore

MAX_BLOCKS = 256
"""Simulated blocks one request may ask for (the spec's recommended limit)."""
MAX_CALLS = 1_000
"""Calls one request may make over all its blocks."""
BLOCK_TIME = 12
"""Seconds between simulated blocks when the request does not say (go-ethereum's)."""
NONCE_TOO_LOW, NONCE_TOO_HIGH, FEE_TOO_LOW = -38010, -38011, -38012
INTRINSIC_GAS, INSUFFICIENT_FUNDS, BLOCK_GAS = -38013, -38014, -38015
BLOCK_ORDER, TIME_ORDER, LIMIT_EXCEEDED = -38020, -38021, -38026
VM_ERROR = -32015
_UNOFFERED = ("traceTransfers",)
_UNOFFERED_BLOCK = ("prevRandao", "blobBaseFee")


class Simulator:
    """eth_simulateV1 over a chain store; ``find`` resolves the base block parameter."""

    def __init__(self, store: ChainStore, find: Callable[[int | str | bytes], Block]) -> None:
        self.store = store
        self.find = find
        self.config = store.config()

    def simulate(self, payload: Any, block_ref: int | str | bytes) -> list[dict[str, Any]]:
        """The simulated blocks of ``payload`` on top of block ``block_ref`` (parsed)."""
        if not isinstance(payload, dict):
            raise invalid_params("invalid argument 0: simulation payload object expected")
        for name in _UNOFFERED:
            if payload.get(name):
                raise invalid_params(f"{name} is not offered by this node")
        blocks = payload.get("blockStateCalls") or []
        if not isinstance(blocks, list):
            raise invalid_params("invalid argument 0: blockStateCalls must be a list")
        if len(blocks) > MAX_BLOCKS:
            raise RpcError(LIMIT_EXCEEDED, f"too many blocks: at most {MAX_BLOCKS}")
        for entry in blocks:
            if not isinstance(entry, dict) or not isinstance(entry.get("calls") or [], list):
                raise invalid_params(
                    "invalid argument 0: each block state call is an object with a list of calls"
                )
        if sum(len(b.get("calls") or []) for b in blocks) > MAX_CALLS:
            raise RpcError(LIMIT_EXCEEDED, f"too many calls: at most {MAX_CALLS}")
        validation = payload.get("validation") is True
        full = payload.get("returnFullTransactions") is True
        base = self.find(block_ref)
        parent = self.store.state_at(base.header.number)
        env = parent.next_env(base.header.beneficiary)
        state = timed_state(env, self.store.db, base.header.state_root)
        previous = base.header
        ancestors = list(env.prev_hashes)
        out = []
        for entry in blocks:
            if not isinstance(entry, dict):
                raise invalid_params("invalid argument 0: each block state call is an object")
            env = self._block_env(env, previous, entry.get("blockOverrides") or {}, validation)
            env = replace(env, prev_hashes=tuple(ancestors[:256]))
            state.execution_context = env.execution_context()
            _override(state, entry.get("stateOverrides") or {})
            header, block, results, txs = self._run_block(state, env, previous, entry, validation)
            out.append({**block_json(block, False, self.config.chain_id), "calls": results})
            if full:
                out[-1]["transactions"] = [
                    tx_json(_from_call(raw, tx.sender), self.config.chain_id, block, i)
                    for i, (raw, tx) in enumerate(zip(block.transactions, txs, strict=True))
                ]
            ancestors.insert(0, header.hash)
            previous = header
        return out

    def _block_env(self, env: Any, previous: Header, overrides: Any, validation: bool) -> Any:
        if not isinstance(overrides, dict):
            raise invalid_params("invalid argument 0: blockOverrides must be an object")
        for name in _UNOFFERED_BLOCK:
            if name in overrides:
                raise invalid_params(f"the {name} override is not offered by this node")
        number = previous.number + 1
        if "number" in overrides:
            number = parse_quantity(overrides["number"], "number", limit=2**63 - 1)
            if number <= previous.number:
                raise RpcError(BLOCK_ORDER, f"block number {number} is not after {previous.number}")
        timestamp = previous.timestamp + BLOCK_TIME
        if "time" in overrides:
            timestamp = parse_quantity(overrides["time"], "time", limit=2**63 - 1)
            if timestamp <= previous.timestamp:
                raise RpcError(
                    TIME_ORDER, f"timestamp {timestamp} is not after {previous.timestamp}"
                )
        base_fee = next_base_fee(previous, self.config) if validation else 0
        if "baseFeePerGas" in overrides:
            base_fee = parse_quantity(overrides["baseFeePerGas"], "baseFeePerGas")
        coinbase = previous.beneficiary
        if "feeRecipient" in overrides:
            coinbase = parse_address(overrides["feeRecipient"], "feeRecipient")
        gas_limit = self.config.gas_limit
        if "gasLimit" in overrides:
            gas_limit = parse_quantity(overrides["gasLimit"], "gasLimit", limit=2**63 - 1)
        return replace(
            env,
            number=number,
            timestamp=timestamp,
            coinbase=coinbase,
            gas_limit=gas_limit,
            base_fee=base_fee,
        )

    def _run_block(
        self, state: Any, env: Any, previous: Header, entry: dict[str, Any], validation: bool
    ) -> tuple[Header, Block, list[dict[str, Any]], list[SignedTransactionAPI]]:
        calls = entry.get("calls") or []
        if not isinstance(calls, list):
            raise invalid_params("invalid argument 0: calls must be a list")
        raws: list[bytes] = []
        receipts: list[OpReceipt] = []
        outcomes: list[tuple[Any, bytes]] = []
        txs: list[SignedTransactionAPI] = []
        used = 0
        for call in calls:
            tx, raw = self._transaction(state, env, call, env.gas_limit - used, validation)
            state.lock_changes()
            computation = state.apply_transaction(tx)
            gas = gas_used_by(tx, computation)
            used += gas
            logs = tuple(
                (bytes(a), tuple(t.to_bytes(32, "big") for t in topics), bytes(d))
                for a, topics, d in computation.get_log_entries()
            )
            receipts.append(OpReceipt(0 if computation.is_error else 1, gas, logs, b"", b""))
            raws.append(raw)
            outcomes.append((computation, raw))
            txs.append(tx)
        commitments = receipt_commitments(raws, receipts)
        header = Header(
            parent_hash=previous.hash,
            number=env.number,
            timestamp=env.timestamp,
            beneficiary=env.coinbase,
            state_root=bytes(state.make_state_root()),
            transactions_root=transactions_root(raws),
            receipts_root=commitments.receipts_root,
            logs_bloom=commitments.logs_bloom,
            gas_used=used,
            gas_limit=env.gas_limit,
            base_fee=env.base_fee,
            op_receipts_root=bytes(32),
            rwset_hash=bytes(32),
            groups_hash=bytes(32),
        )
        block = Block(header, tuple(raws), (), (), ())
        results = []
        first_log = 0
        place = block_place(block)
        for index, ((computation, raw), receipt) in enumerate(zip(outcomes, receipts, strict=True)):
            tx_hash = bytes(keccak(raw))
            result: dict[str, Any] = {
                "status": "0x1" if receipt.status else "0x0",
                "returnData": to_data(bytes(computation.output)),
                "gasUsed": hex(receipt.gas_used),
                "logs": [
                    log_json(place, index, tx_hash, first_log + i, log)
                    for i, log in enumerate(receipt.logs)
                ],
            }
            first_log += len(receipt.logs)
            if computation.is_error:
                del result["logs"]
                if isinstance(computation.error, Revert):
                    result["error"] = {
                        "code": 3,
                        "message": "execution reverted",
                        "data": to_data(bytes(computation.output)),
                    }
                else:
                    result["error"] = {
                        "code": VM_ERROR,
                        "message": f"vm execution error: {computation.error}",
                    }
            results.append(result)
        return header, block, results, txs

    def _transaction(
        self, state: Any, env: Any, call: Any, gas_left: int, validation: bool
    ) -> tuple[SignedTransactionAPI, bytes]:
        """The call as a transaction with a zero signature, spoofed to come from its
        ``from``; checked as a node checks one when ``validation`` is on."""
        if not isinstance(call, dict):
            raise invalid_params("invalid argument 0: each call is a transaction object")
        sender = parse_address(call["from"], "from") if call.get("from") else bytes(20)
        to = parse_address(call["to"], "to") if call.get("to") else b""
        value = parse_quantity(call.get("value") or "0x0", "value")
        data = parse_data(call.get("input") or call.get("data") or "0x", "input")
        gas = gas_left
        if call.get("gas") is not None:
            gas = parse_quantity(call["gas"], "gas", limit=2**63 - 1)
            if gas > gas_left:
                raise RpcError(BLOCK_GAS, f"block gas limit reached: {gas} > {gas_left} left")
        nonce = state.get_nonce(Address(sender))
        max_fee = tip = 0
        if validation:
            if call.get("nonce") is not None:
                given = parse_quantity(call["nonce"], "nonce", limit=2**64 - 1)
                if given < nonce:
                    raise RpcError(
                        NONCE_TOO_LOW, f"nonce too low: next nonce {nonce}, tx nonce {given}"
                    )
                if given > nonce:
                    raise RpcError(
                        NONCE_TOO_HIGH, f"nonce too high: next nonce {nonce}, tx nonce {given}"
                    )
            fee = call.get("maxFeePerGas") or call.get("gasPrice")
            max_fee = parse_quantity(fee, "maxFeePerGas") if fee else env.base_fee
            tip = parse_quantity(call.get("maxPriorityFeePerGas") or "0x0", "tip")
            if max_fee < env.base_fee:
                raise RpcError(
                    FEE_TOO_LOW,
                    f"max fee per gas less than block base fee: {max_fee} < {env.base_fee}",
                )
        elif env.base_fee:
            max_fee = env.base_fee
        fields = (self.config.chain_id, nonce, min(tip, max_fee), max_fee, gas, Address(to))
        unsigned = PragueTransactionBuilder.new_unsigned_dynamic_fee_transaction(
            *fields, value, data, []
        )
        if gas < unsigned.intrinsic_gas:
            raise RpcError(
                INTRINSIC_GAS, f"intrinsic gas too low: have {gas}, want {unsigned.intrinsic_gas}"
            )
        cost = gas * max_fee + value
        balance = state.get_balance(Address(sender))
        if balance < cost:
            raise RpcError(
                INSUFFICIENT_FUNDS,
                f"insufficient funds for gas * price + value: address 0x{sender.hex()} "
                f"have {balance} want {cost}",
            )
        zero_signed = PragueTransactionBuilder.new_dynamic_fee_transaction(
            *fields, value, data, [], 0, 0, 0
        )
        spoofed = SpoofTransaction(unsigned, from_=Address(sender))
        return cast(SignedTransactionAPI, spoofed), bytes(zero_signed.encode())


def _from_call(raw: bytes, sender: bytes) -> SignedTransactionAPI:
    return cast(SignedTransactionAPI, _FromCall(raw, sender))


class _FromCall:
    """A zero-signed call transaction that reports its caller as its sender."""

    def __init__(self, raw: bytes, sender: bytes) -> None:
        self._tx = decode_transaction(raw)
        self.sender = sender

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


def _override(state: Any, overrides: Any) -> None:
    """Apply a block's state overrides: balance, nonce, code, and storage replaced
    whole (``state``) or slot by slot (``stateDiff``)."""
    if not isinstance(overrides, dict):
        raise invalid_params("invalid argument 0: stateOverrides must be an object")
    for key, account in overrides.items():
        address = Address(parse_address(key, "address"))
        if not isinstance(account, dict):
            raise invalid_params(f"invalid argument 0: override of {key} must be an object")
        if "movePrecompileToAddress" in account:
            raise invalid_params("the movePrecompileToAddress override is not offered by this node")
        if "state" in account and "stateDiff" in account:
            raise invalid_params(f"override of {key}: state and stateDiff are exclusive")
        if "balance" in account:
            state.set_balance(address, parse_quantity(account["balance"], "balance"))
        if "nonce" in account:
            state.set_nonce(address, parse_quantity(account["nonce"], "nonce", limit=2**64 - 1))
        if "code" in account:
            state.set_code(address, parse_data(account["code"], "code"))
        slots = account.get("state", account.get("stateDiff"))
        if slots is None:
            continue
        if not isinstance(slots, dict):
            raise invalid_params(f"override of {key}: storage must be an object")
        if "state" in account:
            state.delete_storage(address)
        for slot, value in slots.items():
            state.set_storage(
                address,
                int.from_bytes(parse_hash(slot, "slot"), "big"),
                int.from_bytes(parse_hash(value, "value"), "big"),
            )
