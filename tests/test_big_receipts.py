"""A transaction with 72,000 logs (a LOG0 loop filling most of a block's gas) stays
readable: its receipt and its block's receipts may pass the 25 MB that holds any other
answer, up to what the gas limit lets a block's receipts take, and the dashboard
sends the first 1,000 logs and operations and says how many there are (invariant 9,
docs/architecture.md)."""

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eth_hash.auto import keccak
from fastapi.testclient import TestClient

from common.chain.accounts import dev_accounts, sign
from common.chain.state import ChainConfig
from common.rpc import calls, timed_call
from common.rpc.dispatch import MAX_BATCH_RESPONSE, Dispatcher
from common.rpc.views import LOG_JSON, RECEIPT_JSON, receipts_json_bytes
from miner.app import create_app, rpc_methods
from miner.dashboard.overview import SHOWN, Dashboard
from miner.node import MinerNode
from tests.evm_asm import Item, assemble
from tests.nodes import held_miner
from validator.app import rpc_methods as validator_methods

(ALICE,) = dev_accounts(1)
LOGS = 72_000
"""407 gas each: 29.3M of the block's 30M."""
QUANTITIES = ("blockNumber", "blockTimestamp", "transactionIndex", "logIndex")
WIDEST = "0x" + "f" * 16
"""A quantity at 64 bits, as wide as any of these gets."""


def log_loop(count: int) -> bytes:
    """Initcode that emits ``count`` LOG0s with no data, then stops."""
    start = len(assemble([count]))
    loop: list[Item] = ["JUMPDEST", 0, 0, "LOG0", 1, "SWAP1", "SUB", "DUP1", start, "JUMPI", "STOP"]
    return assemble([count, *loop])


@pytest.fixture(scope="module")
def mined(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MinerNode, str]]:
    """A miner whose block 1 holds the transaction with ``LOGS`` logs, and its hash."""
    node = held_miner(tmp_path_factory.mktemp("logs"))
    raw = sign(ALICE, 0, None, config=ChainConfig(), data=log_loop(LOGS), gas=29_500_000)
    node.submit(raw)
    assert node.produce_block() is not None
    yield node, "0x" + keccak(raw).hex()
    node.stop()


def post(client: TestClient, method: str, params: list[Any]) -> bytes:
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = client.post("/", json=request)
    assert answer.status_code == 200
    content: bytes = answer.content
    return content


def test_the_receipts_of_a_block_full_of_logs_are_answered_whole(mined):
    node, tx_hash = mined
    client = TestClient(create_app(node))  # no lifespan: the block loop stays off
    most = receipts_json_bytes(ChainConfig().gas_limit)
    body = post(client, "eth_getTransactionReceipt", [tx_hash])
    assert MAX_BATCH_RESPONSE < len(body) < most
    receipt = json.loads(body)["result"]
    assert receipt["status"] == "0x1" and len(receipt["logs"]) == LOGS

    # Every log and the receipt itself, with their quantities at 64 bits, fit the
    # sizes the limit is made of.
    widened = {**receipt["logs"][-1], **dict.fromkeys(QUANTITIES, WIDEST)}
    assert len(json.dumps(widened, separators=(",", ":"))) + 1 <= LOG_JSON
    bare = {**receipt, "logs": [], "contractAddress": "0x" + "00" * 20}
    bare |= dict.fromkeys(
        ("transactionIndex", "blockNumber", "cumulativeGasUsed", "gasUsed", "type", "status"),
        WIDEST,
    )
    bare["effectiveGasPrice"] = "0x" + "f" * 64
    assert len(json.dumps(bare, separators=(",", ":"))) + 1 <= RECEIPT_JSON

    body = post(client, "eth_getBlockReceipts", ["0x1"])
    assert MAX_BATCH_RESPONSE < len(body) < most
    assert json.loads(body)["result"] == [receipt]


def test_a_validator_answers_them_whole_too(mined):
    node, tx_hash = mined
    eth, methods = validator_methods(node.store, threading.RLock(), dict)
    dispatcher = Dispatcher(methods, limits=eth.response_limits())
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt"}
    body = dispatcher.handle(json.dumps({**request, "params": [tx_hash]}).encode())
    assert body is not None and len(body) > MAX_BATCH_RESPONSE
    assert len(json.loads(body)["result"]["logs"]) == LOGS


def test_the_dashboard_shows_the_first_logs_and_how_many_there_are(mined, monkeypatch):
    node, tx_hash = mined
    dashboard = Dashboard(node, rpc_methods(node)[1])
    # A loaded machine may need more than 5 s to replay 72,000 logs: this part is
    # about what the page is sent.
    monkeypatch.setattr(calls, "deadline", lambda: timed_call.deadline(120))
    page = dashboard.transaction(tx_hash)
    assert page is not None and page["operationError"] is None
    assert (len(page["receipt"]["logs"]), page["logCount"]) == (SHOWN, LOGS)
    operations = page["operationReceipt"]["operations"]
    assert len(operations) == SHOWN and page["operationCount"] > LOGS
    assert len(json.dumps(page)) < 1_000_000

    # A replay the node cannot finish in time leaves the rest of the page intact.
    monkeypatch.setattr(calls, "deadline", lambda: timed_call.deadline(0.01))
    page = dashboard.transaction(tx_hash)
    assert page is not None and page["operationReceipt"] is None
    assert page["operationError"] == "execution aborted (timeout = 5s)"
    assert page["logCount"] == LOGS
