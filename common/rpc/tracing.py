"""``debug_traceTransaction``, ``debug_traceBlockByNumber`` and
``debug_traceBlockByHash`` with go-ethereum's opcode logger (no tracer named,
``common/rpc/structlog.py``), ``callTracer`` and ``prestateTracer`` (plain and
``diffMode``).

A trace re-executes the block serially on its parent state, exactly as mined
transactions ran, up to the transaction asked for. The prestate tracer reports every
account and slot the transaction made warm (reverted frames included): their values
before it, and in diff mode what it changed. That is the transaction's R/W set in
the format existing tools read. The call tracer turns py-evm's tree of computations
into geth's nested call frames. Each trace runs within ``CALL_TIMEOUT`` seconds.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from eth.abc import ComputationAPI, SignedTransactionAPI
from eth.exceptions import Revert
from eth_typing import Address

from common.chain.block import Block
from common.evm.forks import FORKS, decode_transaction, gas_used_by
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.hexcodec import to_data, to_quantity
from common.rpc.namespace import Namespace, method
from common.rpc.params import BlockTag, Hash, Raw
from common.rpc.structlog import StructLogger
from common.rpc.timed_call import observed, timed_state
from common.rpc.warm import Touched, record_warm
from common.store.chain import ChainStore

TRACERS = ("callTracer", "prestateTracer")
Account = dict[str, Any]


class TraceApi(Namespace):
    """The tracing methods over a chain store; ``slot`` bounds concurrent work."""

    def __init__(
        self,
        store: ChainStore,
        resolve: Callable[[int | str], int],
        slot: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self.store = store
        self.resolve = resolve
        self.slot = slot
        self.fork = store.config().fork

    @method("debug_traceTransaction")
    def trace_transaction(self, hash: Hash, options: Raw = None) -> Any:
        tracer = _tracer(options)
        location = self.store.transaction_location(hash)
        if location is None:
            raise RpcError(SERVER_ERROR, "transaction not found")
        number, index = location
        block = self.store.block(number)
        assert block is not None
        with self.slot():
            traces = list(self._traces(block, tracer, until=index, only=index))
        return traces[-1][1]

    @method("debug_traceBlockByNumber")
    def trace_block_by_number(self, block: BlockTag, options: Raw = None) -> Any:
        return self._trace_block(self.store.block(self.resolve(block)), options)

    @method("debug_traceBlockByHash")
    def trace_block_by_hash(self, hash: Hash, options: Raw = None) -> Any:
        number = self.store.number_of(hash)
        return self._trace_block(None if number is None else self.store.block(number), options)

    def _trace_block(self, block: Block | None, options: Any) -> list[dict[str, Any]]:
        tracer = _tracer(options)
        if block is None:
            raise RpcError(SERVER_ERROR, "block not found")
        if block.header.number == 0:
            raise RpcError(SERVER_ERROR, "genesis is not traceable")
        with self.slot():
            return [
                {"txHash": to_data(decode_transaction(block.transactions[i]).hash), "result": r}
                for i, r in self._traces(block, tracer, until=len(block.transactions) - 1)
            ]

    def _traces(
        self, block: Block, tracer: tuple[str, dict[str, Any]], until: int, only: int | None = None
    ) -> Iterator[tuple[int, Any]]:
        """(index, trace) of transactions 0..``until`` of ``block``, run in order (with
        ``only``, just that one is traced; the others only run)."""
        name, config = tracer
        parent = self.store.state_at(block.header.number - 1)
        env = parent.env_of(block.header)
        state = timed_state(env, self.store.db, parent.head.state_root)
        touched: Touched = set()
        record_warm(state, touched)
        for index, raw in enumerate(block.transactions[: until + 1]):
            tx = decode_transaction(raw)
            state.lock_changes()
            touched.clear()
            if only is not None and index != only:
                state.apply_transaction(tx)
                continue
            if name == "":
                logger = StructLogger(config)
                with observed(logger):
                    computation = state.apply_transaction(tx)
                yield (
                    index,
                    {
                        "gas": gas_used_by(tx, computation),
                        "failed": bool(computation.is_error),
                        "returnValue": to_data(bytes(computation.output)),
                        "structLogs": logger.logs,
                    },
                )
                continue
            if name == "callTracer":
                computation = state.apply_transaction(tx)
                yield index, _call_frame(computation, tx, config.get("onlyTopCall") is True)
                continue
            snapshot = state.snapshot()
            state.apply_transaction(tx)
            keys = set(touched) - self._precompiles()
            after = _accounts(state, keys)
            state.revert(snapshot)
            before = _accounts(state, keys)
            state.apply_transaction(tx)
            yield index, _prestate(before, after, config.get("diffMode") is True)

    def _precompiles(self) -> Touched:
        return {(bytes(a), None) for a in FORKS[self.fork].computation.get_precompiles()}


def _tracer(options: Any) -> tuple[str, dict[str, Any]]:
    """The tracer ("" for the opcode logger, whose config is the options themselves)
    and its config."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise invalid_params("invalid argument 1: trace config object expected")
    name = options.get("tracer") or ""
    if name == "":
        return name, options
    if name not in TRACERS:
        raise invalid_params(
            f"tracer {name!r} is not offered here: use one of {', '.join(TRACERS)}"
        )
    config = options.get("tracerConfig") or {}
    if not isinstance(config, dict):
        raise invalid_params("invalid argument 1: tracerConfig must be an object")
    return name, config


def _accounts(state: Any, keys: Touched) -> dict[bytes, Account]:
    """Each touched address's balance, nonce, code and touched slots, now."""
    out: dict[bytes, Account] = {}
    for address, slot in sorted(keys, key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        entry = out.get(address)
        if entry is None:
            raw = Address(address)
            entry = out[address] = {
                "balance": state.get_balance(raw),
                "nonce": state.get_nonce(raw),
                "code": bytes(state.get_code(raw)),
                "storage": {},
            }
        if slot is not None:
            entry["storage"][slot] = state.get_storage(Address(address), slot)
    return out


def _account_json(account: Account, slots: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"balance": to_quantity(account["balance"])}
    if account["nonce"]:
        out["nonce"] = account["nonce"]
    if account["code"]:
        out["code"] = to_data(account["code"])
    storage = {
        to_data(k.to_bytes(32, "big")): to_data(v.to_bytes(32, "big"))
        for k, v in sorted(account["storage"].items())
        if slots is None or k in slots
    }
    if storage:
        out["storage"] = storage
    return out


def _exists(account: Account) -> bool:
    return bool(account["balance"] or account["nonce"] or account["code"])


def _prestate(
    before: dict[bytes, Account], after: dict[bytes, Account], diff: bool
) -> dict[str, Any]:
    """geth's prestate: every touched account before the transaction; in diff mode,
    ``pre`` (changed accounts before) and ``post`` (only what changed)."""
    if not diff:
        return {to_data(a): _account_json(acc) for a, acc in before.items() if _exists(acc)}
    pre: dict[str, Any] = {}
    post: dict[str, Any] = {}
    for address, old in before.items():
        new = after[address]
        changed = {k for k in old["storage"] if old["storage"][k] != new["storage"][k]}
        fields = [f for f in ("balance", "nonce", "code") if old[f] != new[f]]
        if not changed and not fields:
            continue
        if _exists(old):
            pre[to_data(address)] = _account_json(old, changed)
        if _exists(new):
            entry: dict[str, Any] = {}
            if "balance" in fields:
                entry["balance"] = to_quantity(new["balance"])
            if "nonce" in fields:
                entry["nonce"] = new["nonce"]
            if "code" in fields:
                entry["code"] = to_data(new["code"])
            storage = _account_json(new, changed).get("storage")
            if storage:
                entry["storage"] = storage
            post[to_data(address)] = entry
    return {"pre": pre, "post": post}


def _call_type(computation: ComputationAPI, parent_static: bool) -> str:
    msg = computation.msg
    if msg.is_create:
        return "CREATE"
    if msg.code_address != msg.storage_address:
        return "CALLCODE" if msg.should_transfer_value else "DELEGATECALL"
    if msg.is_static and not parent_static:
        return "STATICCALL"
    return "CALL"


def _error(computation: ComputationAPI) -> str:
    if isinstance(computation.error, Revert):
        return "execution reverted"
    return str(computation.error) or type(computation.error).__name__


def _call_frame(computation: ComputationAPI, tx: SignedTransactionAPI, top_only: bool) -> Any:
    """The transaction's call tree as geth's callTracer reports it."""
    frame = _frame(computation, False, top_only)
    frame["from"] = to_data(tx.sender)
    frame["gas"] = to_quantity(tx.gas)
    frame["gasUsed"] = to_quantity(gas_used_by(tx, computation))
    if not tx.to:
        frame["input"] = to_data(tx.data)
    return frame


def _frame(computation: ComputationAPI, parent_static: bool, top_only: bool) -> dict[str, Any]:
    msg = computation.msg
    frame: dict[str, Any] = {
        "type": _call_type(computation, parent_static),
        "from": to_data(msg.sender),
        "to": to_data(msg.storage_address),
        "value": to_quantity(msg.value),
        "gas": to_quantity(msg.gas),
        "gasUsed": to_quantity(msg.gas - computation.get_gas_remaining()),
        "input": to_data(msg.data_as_bytes if not msg.is_create else msg.code),
    }
    if computation.output:
        frame["output"] = to_data(computation.output)
    if computation.is_error:
        frame["error"] = _error(computation)
    if not top_only and computation.children:
        frame["calls"] = [_frame(child, msg.is_static, False) for child in computation.children]
    return frame
