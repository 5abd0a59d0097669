"""Malformed JSON-RPC requests and raw transactions each get their JSON-RPC error.

Runs the miner's app in process (FastAPI's test client, the block loop held back by
a long interval). A valid transaction waits in the pool before the table runs; after
it, the node still serves and that transaction is still there.
"""

import json
import threading
import time

import pytest
import rlp
from eth_hash.auto import keccak
from fastapi.testclient import TestClient

from common.chain.accounts import Wallet, dev_accounts, sign
from common.chain.state import ChainConfig
from miner.app import create_app
from tests.nodes import held_miner

CONFIG = ChainConfig()
ALICE, BOB = dev_accounts(2)
POOR = Wallet(b"\x42" * 32)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    return held_miner(tmp_path_factory.mktemp("miner"), subcall_helpers=None)


@pytest.fixture(scope="module")
def client(node):
    with TestClient(create_app(node)) as test_client:
        yield test_client


def call(client, method, *params, raw_body=None):
    body = (
        raw_body
        if raw_body is not None
        else json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    )
    answer = client.post("/", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def raw_hex(raw: bytes) -> str:
    return "0x" + raw.hex()


@pytest.fixture(scope="module")
def pending(client):
    raw = sign(ALICE, 0, BOB.address, config=CONFIG, value=5, gas=21_000)
    answer = call(client, "eth_sendRawTransaction", raw_hex(raw))
    return answer["result"]


def _truncated() -> str:
    return raw_hex(sign(ALICE, 1, BOB.address, config=CONFIG, gas=21_000)[:-7])


def _non_canonical_rlp() -> str:
    encoded: bytes = rlp.encode([b"\x00\x01"])
    return "0x" + encoded.hex()


TABLE = [
    # (id, method, params, expected code, message fragment)
    ("unknown method", "eth_mine", [], -32601, "does not exist"),
    ("params not a list", "eth_getBalance", {"a": 1}, -32602, "non-array"),
    ("too few params", "eth_getBalance", [], -32602, "missing value"),
    ("too many params", "eth_getBalance", ["0x" + "00" * 20, "latest", 1], -32602, "too many"),
    ("short address", "eth_getBalance", ["0x1234", "latest"], -32602, "20 bytes"),
    ("odd hex", "eth_getCode", ["0x123", "latest"], -32602, "hex string"),
    ("leading zero", "eth_getBlockByNumber", ["0x01", False], -32602, "leading zeros"),
    ("negative number", "eth_getBlockByNumber", ["-0x1", False], -32602, "block number"),
    ("negative hex", "eth_getBlockByNumber", ["0x-1", False], -32602, "leading zeros"),
    ("overflowing block", "eth_getBlockByNumber", ["0x1" + "0" * 20, False], -32602, "64 bits"),
    (
        "overflowing value",
        "eth_call",
        [{"to": "0x" + "00" * 20, "value": "0x1" + "0" * 64}],
        -32602,
        "256 bits",
    ),
    ("unknown tag", "eth_getBalance", ["0x" + "00" * 20, "pending2"], -32602, "block number"),
    ("number not hex", "eth_getBlockByNumber", [12, False], -32602, "block number"),
    ("bad hash", "eth_getTransactionByHash", ["0x00"], -32602, "32 bytes"),
    ("raw tx not hex", "eth_sendRawTransaction", ["0xzz"], -32602, "hex string"),
    ("truncated rlp", "eth_sendRawTransaction", [_truncated()], -32000, "rlp"),
    ("garbage rlp", "eth_sendRawTransaction", [_non_canonical_rlp()], -32000, "rlp"),
    (
        "wrong chain id",
        "eth_sendRawTransaction",
        [raw_hex(sign(ALICE, 1, BOB.address, config=ChainConfig(chain_id=1), gas=21_000))],
        -32000,
        "invalid chain id for signer: have 1 want 31337",
    ),
    (
        "huge payload",
        "eth_sendRawTransaction",
        [
            raw_hex(
                sign(ALICE, 1, BOB.address, config=CONFIG, data=b"\x01" * 140_000, gas=29_000_000)
            )
        ],
        -32000,
        "oversized data: transaction size",
    ),
    (
        "intrinsic gas",
        "eth_sendRawTransaction",
        [raw_hex(sign(ALICE, 1, BOB.address, config=CONFIG, gas=20_000))],
        -32000,
        "intrinsic gas too low",
    ),
    (
        "insufficient funds",
        "eth_sendRawTransaction",
        [raw_hex(sign(POOR, 0, ALICE.address, config=CONFIG, gas=21_000))],
        -32000,
        "insufficient funds for gas * price + value: balance 0",
    ),
    (
        "nonce too far ahead",
        "eth_sendRawTransaction",
        [raw_hex(sign(ALICE, 500, BOB.address, config=CONFIG, gas=21_000))],
        -32000,
        "nonce too high: next nonce 0, tx nonce 500",
    ),
    ("fee history count a list", "eth_feeHistory", [[1], "latest", []], -32602, "blockCount"),
    (
        "too many percentiles",
        "eth_feeHistory",
        ["0x1", "latest", list(range(101))],
        -32602,
        "too many reward percentiles: 101, at most 100",
    ),
    ("percentiles descending", "eth_feeHistory", ["0x1", "latest", [50, 10]], -32602, "10"),
    ("percentile above 100", "eth_feeHistory", ["0x1", "latest", [101]], -32602, "percentile"),
    ("percentiles not a list", "eth_feeHistory", ["0x1", "latest", "x"], -32602, "a list"),
    (
        "call below intrinsic gas",
        "eth_call",
        [{"to": "0x" + "00" * 20, "gas": "0x0"}],
        -32000,
        "intrinsic gas too low: have 0, want 21000",
    ),
    (
        "estimate below intrinsic gas",
        "eth_estimateGas",
        [{"to": "0x" + "00" * 20, "gas": "0x5208", "data": "0x01"}],
        -32000,
        "intrinsic gas too low: have 21000, want 21016",
    ),
    ("log address a number", "eth_getLogs", [{"address": 5}], -32602, "address must be"),
    ("unknown tx type", "eth_sendRawTransaction", ["0x7f"], -32000, "Unknown transaction type"),
]


@pytest.mark.parametrize(
    ("method", "params", "code", "fragment"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_bad_call_gets_its_error(client, pending, method, params, code, fragment):
    answer = (
        call(client, method, *params)
        if isinstance(params, list)
        else call(
            client,
            method,
            raw_body=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
    )
    assert answer["error"]["code"] == code, answer
    assert fragment in answer["error"]["message"], answer


@pytest.mark.parametrize(
    "path",
    [
        f"/blocks/{2**64}",
        f"/blocks/{2**63}",
        "/blocks/-1",
        f"/blocks?start={2**64}&end={2**64 + 1}",
        f"/blocks?start=0&end={2**64}",
        "/blocks?start=-1&end=0",
        f"/dashboard/api/block/{2**64}",
    ],
)
def test_a_block_number_out_of_range_gets_a_reason(client, path):
    """A number that no block can have is refused before it reaches the store."""
    answer = client.get(path)
    assert answer.status_code == 400, answer.text
    assert "must be a block number in [0, 2^63)" in answer.json()["detail"]


def test_a_block_number_in_range_but_not_mined_is_not_found(client):
    answer = client.get(f"/blocks/{2**63 - 1}")
    assert answer.status_code == 404 and f"no block {2**63 - 1}" in answer.json()["detail"]
    assert client.get(f"/blocks?start={2**63 - 2}&end={2**63 - 1}").content == b"\xc0"


def test_estimate_gas_searches_from_the_intrinsic_cost(client):
    """Calldata raises the intrinsic cost above 21,000; the search must not run below it."""
    call_object = {"from": "0x" + ALICE.address.hex(), "to": "0x" + BOB.address.hex()}
    answer = call(client, "eth_estimateGas", {**call_object, "data": "0x" + "01" * 100})
    assert answer["result"] == hex(21_000 + 16 * 100)


def test_replacement_needs_ten_percent_more(client):
    first = sign(BOB, 0, ALICE.address, config=CONFIG, value=1, gas=21_000, tip=10**9)
    first_hash = call(client, "eth_sendRawTransaction", raw_hex(first))["result"]
    bumped = sign(
        BOB,
        0,
        ALICE.address,
        config=CONFIG,
        value=2,
        gas=21_000,
        tip=11 * 10**8,
        max_fee=110 * 10**9,
    )
    bumped_hash = call(client, "eth_sendRawTransaction", raw_hex(bumped))["result"]
    assert call(client, "eth_getTransactionByHash", first_hash)["result"] is None
    assert call(client, "eth_getTransactionByHash", bumped_hash)["result"]["value"] == "0x2"


def test_replayed_and_underpriced_transactions(client, pending):
    raw = sign(ALICE, 0, BOB.address, config=CONFIG, value=5, gas=21_000)
    assert call(client, "eth_sendRawTransaction", raw_hex(raw))["error"]["message"] == (
        "already known"
    )
    cheaper = sign(ALICE, 0, BOB.address, config=CONFIG, value=6, gas=21_000)
    answer = call(client, "eth_sendRawTransaction", raw_hex(cheaper))
    assert answer["error"] == {"code": -32000, "message": "replacement transaction underpriced"}


ENVELOPES = [
    ("not json", b"{", -32700),
    ("NaN id", b'{"jsonrpc":"2.0","id":NaN,"method":"eth_chainId"}', -32700),
    (
        "Infinity param",
        b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[Infinity]}',
        -32700,
    ),
    ("empty batch", b"[]", -32600),
    ("wrong version", b'{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}', -32600),
    ("method not a string", b'{"jsonrpc":"2.0","id":1,"method":5}', -32600),
    ("request not an object", b"[1]", -32600),
    ("id is an object", b'{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}', -32600),
]


@pytest.mark.parametrize(
    ("body", "code"), [e[1:] for e in ENVELOPES], ids=[e[0] for e in ENVELOPES]
)
def test_malformed_envelopes(client, body, code):
    answer = client.post("/", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200
    payload = answer.json()
    error = payload[0]["error"] if isinstance(payload, list) else payload["error"]
    assert error["code"] == code


def test_batches(client):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(3)]
    batch.append({"jsonrpc": "2.0", "method": "eth_chainId"})  # a notification: no answer
    batch.append({"jsonrpc": "2.0", "id": 9, "method": "nope"})
    answers = client.post("/", json=batch).json()
    assert [a["id"] for a in answers] == [0, 1, 2, 9]
    assert answers[0]["result"] == "0x7a69" and answers[3]["error"]["code"] == -32601
    too_many = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)]
    assert client.post("/", json=too_many).json()["error"] == {
        "code": -32600,
        "message": "batch too large",
    }


def test_http_limits(client):
    assert (
        client.post(
            "/", content=b"x" * (5 * 1024 * 1024 + 1), headers={"content-type": "application/json"}
        ).status_code
        == 413
    )
    assert (
        client.post("/", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    )
    assert client.get("/").status_code == 405


def test_call_gas_is_capped_and_reverts_report_data(client):
    huge = {"to": "0x" + "00" * 20, "gas": hex(10**12)}
    assert call(client, "eth_call", huge, "latest")["result"] == "0x"
    assert call(client, "eth_estimateGas", {"to": "0x" + "00" * 20})["result"] == hex(21_000)


def test_node_still_serves_and_kept_the_pool(client, node, pending):
    """Runs last: nothing the table threw at the node cost it the pending transaction."""
    assert call(client, "eth_chainId")["result"] == "0x7a69"
    found = call(client, "eth_getTransactionByHash", pending)["result"]
    assert found["hash"] == pending and found["blockNumber"] is None
    alice = "0x" + ALICE.address.hex()
    assert call(client, "eth_getTransactionCount", alice, "pending")["result"] == "0x1"
    assert call(client, "eth_getTransactionCount", alice, "latest")["result"] == "0x0"
    block = node.produce_block()
    assert block is not None
    assert pending in {"0x" + keccak(raw).hex() for raw in block.transactions}
    receipt = call(client, "eth_getTransactionReceipt", pending)["result"]
    assert receipt["status"] == "0x1" and receipt["blockNumber"] == "0x1"
    # The whole block's receipts, by number, tag or hash, are the same receipts.
    for ref in ("0x1", "latest", receipt["blockHash"]):
        receipts = call(client, "eth_getBlockReceipts", ref)["result"]
        assert len(receipts) == len(block.transactions)
        assert receipts[int(receipt["transactionIndex"], 16)] == receipt
    assert call(client, "eth_getBlockReceipts", "0x9")["result"] is None
    replay = sign(ALICE, 0, BOB.address, config=CONFIG, value=9, gas=21_000)
    answer = call(client, "eth_sendRawTransaction", raw_hex(replay))
    assert answer["error"]["message"] == "nonce too low: next nonce 1, tx nonce 0"


def test_an_estimate_of_a_loop_is_aborted_as_a_whole(client):
    """Each step of the gas search would run for seconds: the deadline covers them all."""
    answer = call(client, "eth_estimateGas", {"data": "0x5b600056"})
    assert answer["error"] == {"code": -32000, "message": "execution aborted (timeout = 5s)"}


def test_a_call_that_loops_is_aborted_and_holds_nothing_up(client):
    """Initcode JUMPDEST PUSH1 0 JUMP loops until 50M gas run out (far past 5 s in
    py-evm): the call is aborted at its deadline, and calls that need the node's state
    lock are answered while it runs."""
    outcome: dict[str, dict[str, object]] = {}
    runner = threading.Thread(
        target=lambda: outcome.setdefault(
            "answer", call(client, "eth_call", {"data": "0x5b600056"})
        )
    )
    runner.start()
    time.sleep(0.5)
    balance = call(client, "eth_getBalance", "0x" + ALICE.address.hex(), "latest")
    assert int(balance["result"], 16) > 0
    assert runner.is_alive(), "the balance waited for the looping call"
    runner.join(30)
    assert outcome["answer"]["error"] == {
        "code": -32000,
        "message": "execution aborted (timeout = 5s)",
    }
