"""``eth_call``, ``eth_estimateGas`` and ``eth_createAccessList``: a call run on a
snapshot of a block's state, outside the node's lock (so it never holds up mining or
validation), in the timed EVM (``common/rpc/timed_call.py``): at most ``MAX_CALLS`` at
once, at most ``MAX_CALLS_PER_CLIENT`` of them running or waiting for one client, each
within ``CALL_TIMEOUT`` seconds and ``RPC_GAS_CAP`` gas. Tracing,
simulation and operation receipts take their slots and deadline from here too
(:meth:`Calls.bounded`), as every method that executes code must (invariant 9,
docs/architecture.md).
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from eth.abc import SignedTransactionAPI
from eth.exceptions import Revert
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address

from common.chain.block import Block
from common.chain.state import ChainConfig
from common.evm.forks import FORKS, BlockEnv, gas_used_by
from common.rpc.dispatch import client_address
from common.rpc.errors import EXECUTION_REVERTED, SERVER_ERROR, RpcError, invalid_params
from common.rpc.hexcodec import parse_address, parse_data, parse_quantity, to_data, to_quantity
from common.rpc.namespace import Namespace, method
from common.rpc.params import BlockRef, Raw
from common.rpc.timed_call import CALL_TIMEOUT, CallTimeout, deadline, timed_state
from common.rpc.warm import Touched, record_warm
from common.store.chain import ChainStore

RPC_GAS_CAP = 50_000_000
"""Gas given to eth_call/eth_estimateGas at most (go-ethereum's --rpc.gascap)."""
MAX_ACCESS_LIST_ROUNDS = 4
"""Runs eth_createAccessList makes at most before its list stops changing."""
MAX_CALLS = 4
"""eth_call/eth_estimateGas executions running at once."""
MAX_CALLS_PER_CLIENT = 2
"""Calls one client (``dispatch.client_address``) may have running or waiting for a slot
at once, half of ``MAX_CALLS``: one more is refused at once, without waiting, so one
client never holds every slot, nor every RPC thread waiting for one."""
AccessList = tuple[tuple[bytes, tuple[int, ...]], ...]
"""(address, sorted storage slots) pairs, sorted by address."""


class _IntrinsicGasTooLow(RpcError):
    """Thrown when a call's gas does not cover even its intrinsic cost."""


class Calls(Namespace):
    """The call methods over a chain store; ``block_at`` finds the block a parsed block
    parameter names."""

    def __init__(
        self, store: ChainStore, config: ChainConfig, block_at: Callable[[int | str | bytes], Block]
    ) -> None:
        self.store = store
        self.config = config
        self._block_at = block_at
        self._calls = threading.BoundedSemaphore(MAX_CALLS)
        self._per_client: Counter[str] = Counter()
        """Calls of each client running or waiting for a slot."""
        self._per_client_lock = threading.Lock()

    def _run_call(self, call: Any, block: int | str | bytes, gas: int | None = None) -> Any:
        return self._execute(call, block, gas)[0]

    def _execute(
        self,
        call: Any,
        block_ref: int | str | bytes,
        gas: int | None = None,
        access_list: AccessList | None = None,
        touched: Touched | None = None,
    ) -> tuple[Any, SignedTransactionAPI]:
        """Run ``call`` on the state of block ``block_ref``; with ``access_list`` as a type-1
        transaction carrying it; ``touched`` collects every address and slot made warm."""
        if not isinstance(call, dict):
            raise invalid_params("invalid argument 0: call object expected")
        sender = parse_address(call["from"], "from") if call.get("from") else bytes(20)
        to = parse_address(call["to"], "to") if call.get("to") else b""
        value = parse_quantity(call.get("value", "0x0"), "value")
        data_field = call.get("input", call.get("data", "0x"))
        data = parse_data(data_field, "input")
        limit = gas if gas is not None else RPC_GAS_CAP
        if call.get("gas") and gas is None:
            limit = min(parse_quantity(call["gas"], "gas"), RPC_GAS_CAP)
        block = self._block_at(block_ref)
        header = block.header
        env = BlockEnv(
            number=header.number,
            timestamp=header.timestamp,
            coinbase=header.beneficiary,
            gas_limit=max(header.gas_limit, limit),
            base_fee=0,
            chain_id=self.config.chain_id,
            fork=self.config.fork,
            gas=self.config.gas,
        )
        state = timed_state(env, self.store.db, header.state_root)
        if touched is not None:
            record_warm(state, touched)
        nonce = state.get_nonce(Address(sender))
        if access_list is None:
            unsigned = PragueTransactionBuilder.create_unsigned_transaction(
                nonce=nonce, gas_price=0, gas=limit, to=Address(to), value=value, data=data
            )
        else:
            unsigned = PragueTransactionBuilder.new_unsigned_access_list_transaction(
                self.config.chain_id,
                nonce,
                0,
                limit,
                Address(to),
                value,
                data,
                [(Address(a), slots) for a, slots in access_list],
            )
        if limit < unsigned.intrinsic_gas:
            raise _IntrinsicGasTooLow(
                SERVER_ERROR, f"intrinsic gas too low: have {limit}, want {unsigned.intrinsic_gas}"
            )
        tx = cast(SignedTransactionAPI, SpoofTransaction(unsigned, from_=Address(sender)))
        if state.get_balance(Address(sender)) < value:
            raise RpcError(SERVER_ERROR, "insufficient funds for gas * price + value")
        return state.apply_transaction(tx), tx

    @method("eth_call")
    def call(self, call: Raw, block: BlockRef = "latest") -> str:
        """Runs on a snapshot of the chosen block's state, outside the node's lock (so a
        call never holds up mining or validation), for at most ``CALL_TIMEOUT`` s."""
        with self._call_slot(), deadline():
            computation = self._run_call(call, block)
        if computation.is_error:
            _raise_execution_error(computation)
        return to_data(computation.output)

    @method("eth_estimateGas")
    def estimate_gas(self, call: Raw, block: BlockRef = "latest") -> str:
        with self._call_slot(), deadline():
            high = RPC_GAS_CAP
            if isinstance(call, dict) and call.get("gas"):
                high = min(parse_quantity(call["gas"], "gas"), RPC_GAS_CAP)
            top = self._run_call(call, block, high)
            if top.is_error:
                _raise_execution_error(top)
            low = 21_000 - 1
            while low + 1 < high:
                middle = (low + high) // 2
                try:
                    fails = self._run_call(call, block, middle).is_error
                except _IntrinsicGasTooLow:
                    fails = True
                if fails:
                    low = middle
                else:
                    high = middle
        return to_quantity(high)

    @method("eth_createAccessList")
    def create_access_list(self, call: Raw, block: BlockRef = "latest") -> dict[str, Any]:
        """The addresses and slots the call touches, as go-ethereum's access-list tracer
        gives them (sender, recipient, precompiles and the coinbase left out, all warm
        anyway), and the gas the call uses with that list; repeated until the list no
        longer changes, since a list can change what the call does."""
        with self._call_slot(), deadline():
            header = self._block_at(block).header
            excluded = {bytes(a) for a in FORKS[self.config.fork].computation.get_precompiles()}
            excluded |= {header.beneficiary, bytes(20)}
            for name in ("from", "to"):
                if isinstance(call, dict) and call.get(name):
                    excluded.add(parse_address(call[name], name))
            listed: AccessList = ()
            for _ in range(MAX_ACCESS_LIST_ROUNDS):
                touched: Touched = set()
                computation, tx = self._execute(call, block, None, listed, touched)
                found = _access_list(touched, excluded)
                if found == listed:
                    break
                listed = found
            else:
                computation, tx = self._execute(call, block, None, listed)
        result: dict[str, Any] = {
            "accessList": [
                {"address": to_data(a), "storageKeys": [to_data(k.to_bytes(32, "big")) for k in ks]}
                for a, ks in listed
            ],
            "gasUsed": to_quantity(gas_used_by(tx, computation)),
        }
        if computation.is_error:
            result["error"] = (
                "execution reverted"
                if isinstance(computation.error, Revert)
                else f"execution failed: {computation.error}"
            )
        return result

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """A call slot and the call deadline, for work that executes transactions."""
        with self._call_slot(), deadline():
            yield

    @contextmanager
    def _call_slot(self) -> Iterator[None]:
        """One of ``MAX_CALLS`` places for a running call; a call that finds none free
        within the timeout is refused, so calls cannot take every server thread. A
        client's call beyond its ``MAX_CALLS_PER_CLIENT`` is refused before it waits."""
        with self._client_share():
            if not self._calls.acquire(timeout=CALL_TIMEOUT):
                raise RpcError(SERVER_ERROR, f"node busy: {MAX_CALLS} calls are running")
            try:
                yield
            except CallTimeout as exc:
                raise RpcError(SERVER_ERROR, str(exc)) from None
            finally:
                self._calls.release()

    @contextmanager
    def _client_share(self) -> Iterator[None]:
        """Counts the calling client's call while it runs or waits; refuses it when the
        client already has ``MAX_CALLS_PER_CLIENT``. A caller in process (no client) is
        not counted."""
        client = client_address.get()
        if client is None:
            yield
            return
        with self._per_client_lock:
            if self._per_client[client] >= MAX_CALLS_PER_CLIENT:
                raise RpcError(
                    SERVER_ERROR,
                    f"node busy: {client} has {MAX_CALLS_PER_CLIENT} calls running or waiting",
                )
            self._per_client[client] += 1
        try:
            yield
        finally:
            with self._per_client_lock:
                self._per_client[client] -= 1
                if not self._per_client[client]:
                    del self._per_client[client]


def _access_list(touched: Touched, excluded: set[bytes]) -> AccessList:
    """Touched addresses and slots as a sorted access list, less ``excluded`` addresses
    that have no slot touched."""
    slots: dict[bytes, set[int]] = {}
    for address, slot in touched:
        keys = slots.setdefault(address, set())
        if slot is not None:
            keys.add(slot)
    return tuple(
        (address, tuple(sorted(keys)))
        for address, keys in sorted(slots.items())
        if keys or address not in excluded
    )


def _raise_execution_error(computation: Any) -> None:
    if isinstance(computation.error, Revert):
        raise RpcError(EXECUTION_REVERTED, "execution reverted", to_data(computation.output))
    raise RpcError(SERVER_ERROR, f"execution failed: {computation.error}")
