"""Every JSON-RPC method that executes or replays code runs as ``eth_call`` does: in
one of the call slots and within the call deadline, with eth_call's error when the
deadline passes (invariant 9, docs/architecture.md).

The methods come from the nodes' own tables (a dev miner's and a validator's, as
``loadtest/cli/methods.py`` enumerates them), so a method added later is tried too:
each is called with realistic parameters on a chain holding a long loop, while a
guard on py-evm's computations notes every execution and whether a deadline was
set. A bounded execution finds its deadline already passed, so the timed EVM must
abort it at its first opcode; an unbounded one is stopped at once and fails the
test. Then, with every call slot held, each method that executed must be refused
as busy without executing. Block production (``evm_mine``) runs in the builder's
own process, bounded by the block's gas: the guard does not see it, as it should not.
"""

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from eth.vm.computation import BaseComputation
from eth_hash.auto import keccak

from common.chain.accounts import dev_accounts, sign
from common.chain.state import ChainConfig
from common.rpc import calls, timed_call
from common.rpc import pavm as pavm_module
from common.rpc.calls import MAX_CALLS, MAX_CALLS_PER_CLIENT
from common.rpc.dispatch import Dispatcher, client_address
from common.rpc.eth import EthApi
from miner.app import rpc_methods
from miner.node import MinerNode
from tests.nodes import held_miner
from validator.app import rpc_methods as validator_methods

ALICE, BOB = dev_accounts(2)
LOOP = bytes.fromhex("5b600056")
"""Initcode JUMPDEST PUSH1 0 JUMP: loops until its gas runs out."""
LOOP_GAS = 2_000_000
"""About half a second of py-evm: long next to a shortened deadline, quick to mine."""
TIMEOUT = {"code": -32000, "message": "execution aborted (timeout = 5s)"}
BUSY = {"code": -32000, "message": f"node busy: {MAX_CALLS} calls are running"}
EXECUTES = {
    "debug_traceBlockByHash",
    "debug_traceBlockByNumber",
    "debug_traceTransaction",
    "eth_call",
    "eth_createAccessList",
    "eth_estimateGas",
    "eth_fillTransaction",
    "eth_sendTransaction",
    "eth_signTransaction",
    "eth_simulateV1",
    "pavm_getOperationReceipt",
}
"""The methods that execute code with the parameters below (the last three estimate
gas); kept so that parameters that stop failing to reach the EVM are noticed."""
TYPED = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}],
        "Mail": [{"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "pavm"},
    "message": {"contents": "hello"},
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinerNode]:
    """A dev miner whose block 1 holds a loop transaction (it runs out of gas)."""
    miner = held_miner(tmp_path_factory.mktemp("bounds"), dev=True)
    miner.submit(sign(ALICE, 0, None, config=ChainConfig(), data=LOOP, gas=LOOP_GAS))
    assert miner.produce_block() is not None
    yield miner
    miner.stop()


@pytest.fixture(scope="module")
def tables(node: MinerNode) -> dict[str, tuple[EthApi, Dispatcher]]:
    """The dev miner's and a validator's methods, over the same store."""
    miner_eth, miner = rpc_methods(node)
    validator_eth, validator = validator_methods(node.store, threading.RLock(), dict)
    return {
        "miner": (miner_eth, Dispatcher(miner)),
        "validator": (validator_eth, Dispatcher(validator)),
    }


def ask(dispatcher: Dispatcher, method: str, params: list[Any]) -> dict[str, Any]:
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = dispatcher.handle(json.dumps(request).encode())
    assert answer is not None
    result: dict[str, Any] = json.loads(answer)
    return result


def loop_hash() -> str:
    return "0x" + keccak(sign(ALICE, 0, None, config=ChainConfig(), data=LOOP, gas=LOOP_GAS)).hex()


def realistic(dispatcher: Dispatcher, node: MinerNode) -> dict[str, list[Any]]:
    """Parameters a client would send to each method, aimed at the loop where a method
    executes code; filters are made first, as a client makes them."""
    alice = "0x" + ALICE.address.hex()
    block = node.store.block(1)
    assert block is not None
    number, block_hash, tx = "0x1", "0x" + block.hash.hex(), loop_hash()
    call = {"from": alice, "data": "0x" + LOOP.hex()}
    logs = ask(dispatcher, "eth_newFilter", [{"fromBlock": "0x0"}])["result"]
    blocks = ask(dispatcher, "eth_newBlockFilter", [])["result"]
    transfer = sign(BOB, 0, ALICE.address, config=ChainConfig(), value=1, gas=21_000)
    return {
        "debug_getBadBlocks": [],
        "debug_getRawBlock": [number],
        "debug_getRawHeader": [number],
        "debug_getRawReceipts": [number],
        "debug_getRawTransaction": [tx],
        "debug_traceBlockByHash": [block_hash],
        "debug_traceBlockByNumber": [number, {"tracer": "callTracer"}],
        "debug_traceTransaction": [tx],
        "eth_accounts": [],
        "eth_baseFee": [],
        "eth_blobBaseFee": [],
        "eth_blockNumber": [],
        "eth_call": [call, "latest"],
        "eth_capabilities": [],
        "eth_chainId": [],
        "eth_coinbase": [],
        "eth_config": [],
        "eth_createAccessList": [call, "latest"],
        "eth_estimateGas": [call],
        "eth_feeHistory": ["0x2", "latest", [50]],
        "eth_fillTransaction": [call],
        "eth_gasPrice": [],
        "eth_getBalance": [alice, "latest"],
        "eth_getBlockByHash": [block_hash, True],
        "eth_getBlockByNumber": [number, True],
        "eth_getBlockReceipts": [number],
        "eth_getBlockTransactionCountByHash": [block_hash],
        "eth_getBlockTransactionCountByNumber": [number],
        "eth_getCode": [alice, "latest"],
        "eth_getFilterChanges": [logs],
        "eth_getFilterLogs": [logs],
        "eth_getLogs": [{"fromBlock": "0x0", "toBlock": "latest"}],
        "eth_getProof": [alice, ["0x0"], "latest"],
        "eth_getStorageAt": [alice, "0x0", "latest"],
        "eth_getStorageValues": [{alice: ["0x0"]}, "latest"],
        "eth_getTransactionByBlockHashAndIndex": [block_hash, "0x0"],
        "eth_getTransactionByBlockNumberAndIndex": [number, "0x0"],
        "eth_getTransactionByHash": [tx],
        "eth_getTransactionCount": [alice, "pending"],
        "eth_getTransactionReceipt": [tx],
        "eth_maxPriorityFeePerGas": [],
        "eth_newBlockFilter": [],
        "eth_newFilter": [{"fromBlock": "0x0", "address": alice}],
        "eth_newPendingTransactionFilter": [],
        "eth_sendRawTransaction": ["0x" + transfer.hex()],
        "eth_sendTransaction": [call],
        "eth_sign": [alice, "0x68656c6c6f"],
        "eth_signTransaction": [call],
        "eth_signTypedData_v4": [alice, TYPED],
        "eth_simulateV1": [{"blockStateCalls": [{"calls": [call]}]}, "latest"],
        "eth_syncing": [],
        "eth_uninstallFilter": [blocks],
        "evm_increaseTime": ["0x1"],
        "evm_mine": [],
        "evm_setAutomine": [False],
        "evm_setIntervalMining": [0],
        "evm_setNextBlockTimestamp": [hex(block.header.timestamp + 3600)],
        "net_listening": [],
        "net_peerCount": [],
        "net_version": [],
        "pavm_getBlockCommitments": [number],
        "pavm_getBlockGroups": [number],
        "pavm_getBlockRWSet": [number],
        "pavm_getBlockTimes": ["0x0", "0x1"],
        "pavm_getEquivocations": [],
        "pavm_getOperationReceipt": [tx],
        "pavm_getValidationReport": [number],
        "pavm_getVerdicts": [number],
        "pavm_nodeInfo": [],
        "txpool_content": [],
        "txpool_contentFrom": [alice],
        "txpool_inspect": [],
        "txpool_status": [],
        "web3_clientVersion": [],
        "web3_sha3": ["0x68656c6c6f"],
    }


class _Unbounded(Exception):
    """Stops an execution that started without a deadline (it would run for seconds)."""


class Guard:
    """Notes, per method, every code execution py-evm starts: with a deadline set
    (``bounded``) or not (``unbounded``), and bounded ones that ran on although their
    deadline had passed (``not_aborted``: their EVM does not check it)."""

    def __init__(self) -> None:
        self.method = ""
        self.bounded: set[str] = set()
        self.unbounded: set[str] = set()
        self.not_aborted: set[str] = set()

    @contextmanager
    def installed(self) -> Iterator["Guard"]:
        original = BaseComputation.__dict__["apply_computation"].__func__

        def guarded(cls: Any, state: Any, message: Any, context: Any, parent: Any = None) -> Any:
            if parent is not None or not message.code:
                return original(cls, state, message, context, parent)
            if timed_call._deadline.get() == math.inf:
                self.unbounded.add(self.method)
                raise _Unbounded(self.method)
            self.bounded.add(self.method)
            token = timed_call._deadline.set(-math.inf)
            try:
                computation = original(cls, state, message, context, parent)
            finally:
                timed_call._deadline.reset(token)
            self.not_aborted.add(self.method)
            return computation

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(BaseComputation, "apply_computation", classmethod(guarded))
            yield self


@contextmanager
def slots_held(eth: EthApi, count: int = MAX_CALLS, client: str | None = None) -> Iterator[None]:
    """``count`` call slots of ``eth`` taken by another thread (for ``client`` when
    given), as by that many calls running long; every slot by default."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        if client is not None:
            client_address.set(client)
        with ExitStack() as stack:
            for _ in range(count):
                stack.enter_context(eth.calls.bounded())
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(10)


def test_every_method_that_executes_code_is_bounded_like_eth_call(node, tables, monkeypatch):
    monkeypatch.setattr(calls, "CALL_TIMEOUT", 0.05)  # how long a busy call waits
    for name, (eth, dispatcher) in tables.items():
        params = realistic(dispatcher, node)
        unknown = sorted(set(dispatcher.methods) - set(params))
        assert not unknown, f"{name}: no realistic parameters for {unknown}: add them above"
        answers = {}
        with Guard().installed() as guard:
            for method in sorted(dispatcher.methods):
                guard.method = method
                answers[method] = ask(dispatcher, method, params[method])
        assert not guard.unbounded, f"{name}: executed code without a deadline"
        assert not guard.not_aborted, f"{name}: ran on past the deadline"
        assert guard.bounded == EXECUTES & set(dispatcher.methods), name
        for method, answer in answers.items():
            if method in guard.bounded:
                assert answer.get("error") == TIMEOUT, (name, method, answer)
            else:
                assert "error" not in answer, (name, method, answer)

        with Guard().installed() as guard, slots_held(eth):
            for method in sorted(EXECUTES & set(dispatcher.methods)):
                guard.method = method
                assert ask(dispatcher, method, params[method]).get("error") == BUSY, method
        assert not guard.bounded | guard.unbounded, f"{name}: executed with no slot free"


def test_an_operation_receipt_times_out_as_eth_call_does(tables, monkeypatch):
    """The loop's replay outlasts a shortened deadline: aborted with eth_call's error."""
    monkeypatch.setattr(calls, "deadline", lambda: timed_call.deadline(0.05))
    for _, dispatcher in tables.values():
        replayed = ask(dispatcher, "pavm_getOperationReceipt", [loop_hash()])
        called = ask(dispatcher, "eth_call", [{"data": "0x" + LOOP.hex()}, "latest"])
        assert replayed.get("error") == called["error"] == TIMEOUT


def test_an_operation_receipt_holds_no_lock(node, tables):
    """With the node's lock held (a block being stored), the replay still runs, on
    the timed recording EVM, and reproduces the stored receipt."""
    _, dispatcher = tables["miner"]
    answer: dict[str, Any] = {}
    replay = threading.Thread(
        target=lambda: answer.update(ask(dispatcher, "pavm_getOperationReceipt", [loop_hash()]))
    )
    with node.lock:
        replay.start()
        replay.join(10)
        assert not replay.is_alive(), "the replay waited for the node's lock"
    stored = ask(dispatcher, "pavm_getBlockCommitments", ["0x1"])["result"]["receipts"][0]
    receipt = answer["result"]
    assert (receipt["readHash"], receipt["writeHash"]) == (stored["readHash"], stored["writeHash"])
    assert receipt["status"] == "0x0" and receipt["operations"]


def test_operations_come_in_pages_that_add_up_to_the_whole(tables, monkeypatch):
    """A transaction's operations are paged (``MAX_OPERATIONS`` at most per answer),
    so one with millions of cheap reads is never too large to read; the pages
    concatenate to the operations of one answer, and bad pages are -32602."""
    _, dispatcher = tables["miner"]
    whole = ask(dispatcher, "pavm_getOperationReceipt", [loop_hash()])["result"]
    count = whole["operationCount"]
    assert count == len(whole["operations"]) > 3 and "nextOffset" not in whole
    monkeypatch.setattr(pavm_module, "MAX_OPERATIONS", 2)
    pages, offset = [], 0
    while offset is not None:
        page = ask(dispatcher, "pavm_getOperationReceipt", [loop_hash(), {"offset": offset}])
        result = page["result"]
        assert len(result["operations"]) <= 2 and result["operationCount"] == count
        pages += result["operations"]
        offset = result.get("nextOffset")
    assert pages == whole["operations"]
    for bad in ({"limit": 3}, {"limit": 0}, {"offset": -1}, {"offset": "0x1"}, [], {"x": 1}):
        answer = ask(dispatcher, "pavm_getOperationReceipt", [loop_hash(), bad])
        assert answer["error"]["code"] == -32602, bad


def test_one_client_has_at_most_its_share_of_the_call_slots(tables):
    """A client with ``MAX_CALLS_PER_CLIENT`` calls running or waiting is refused at
    once (no thread held waiting for a slot); another client still gets a slot."""
    eth, dispatcher = tables["miner"]
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"data": "0x"}]}
    with slots_held(eth, MAX_CALLS_PER_CLIENT, "127.0.0.2"):
        start = time.monotonic()
        greedy = json.loads(dispatcher.handle(json.dumps(call).encode(), "127.0.0.2") or b"")
        assert time.monotonic() - start < timed_call.CALL_TIMEOUT  # refused, not timed out
        other = json.loads(dispatcher.handle(json.dumps(call).encode(), "127.0.0.3") or b"")
    message = f"node busy: 127.0.0.2 has {MAX_CALLS_PER_CLIENT} calls running or waiting"
    assert greedy["error"] == {"code": -32000, "message": message}
    assert other["result"] == "0x"
