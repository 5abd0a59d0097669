"""The txpool_* namespace on a miner whose pool holds pending and queued
transactions (its block loop waits an hour, so nothing is mined meanwhile)."""

import json

import pytest
from fastapi.testclient import TestClient

from common.chain.accounts import ETHER, genesis_alloc, sign, wallets
from common.chain.genesis import GenesisSpec
from common.chain.state import ChainConfig
from miner.app import create_app
from miner.node import MinerNode, MinerSettings
from tests.rpc_spec import check_result

CONFIG = ChainConfig()
ALICE, BOB = wallets(2, offset=777)
TO = bytes(19) + b"\x42"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = MinerSettings(
        data_dir=tmp_path_factory.mktemp("txpool"),
        key=b"\x07" * 32,
        genesis=GenesisSpec(CONFIG, genesis_alloc([ALICE, BOB], 10 * ETHER)),
        block_txs=10_000,
        block_interval=3600,
    )
    node = MinerNode(settings)
    with TestClient(create_app(node)) as test_client:
        for raw in (
            sign(ALICE, 0, TO, config=CONFIG, value=5, gas=21_000),
            sign(ALICE, 1, TO, config=CONFIG, value=6, gas=21_000),
            sign(BOB, 2, None, config=CONFIG, data=b"\x00", gas=60_000),  # behind a gap
        ):
            node.submit(raw)
        yield test_client


def _call(client, method, params=()):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    answer = client.post("/", content=json.dumps(body)).json()
    assert "result" in answer, answer
    if method != "txpool_inspect":  # not in the spec
        check_result(method, answer["result"])
    return answer["result"]


def test_status_counts_pending_and_queued(client):
    assert _call(client, "txpool_status") == {"pending": "0x2", "queued": "0x1"}


def test_content_groups_by_sender_and_nonce(client):
    content = _call(client, "txpool_content")
    alice, bob = "0x" + ALICE.address.hex(), "0x" + BOB.address.hex()
    assert sorted(content["pending"][alice]) == ["0", "1"]
    assert content["pending"][alice]["1"]["value"] == "0x6"
    assert content["pending"][alice]["1"]["blockHash"] is None
    assert list(content["queued"][bob]) == ["2"] and bob not in content["pending"]
    assert _call(client, "txpool_contentFrom", [bob]) == {
        "pending": {},
        "queued": {"2": content["queued"][bob]["2"]},
    }


def test_inspect_summarises_as_geth_does(client):
    inspect = _call(client, "txpool_inspect")
    alice, bob = "0x" + ALICE.address.hex(), "0x" + BOB.address.hex()
    line = inspect["pending"][alice]["0"]
    assert line.startswith("0x" + TO.hex() + ": 5 wei + 21000 gas × ")
    assert inspect["queued"][bob]["2"].startswith("contract creation: 0 wei + 60000 gas")
