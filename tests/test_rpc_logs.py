"""eth_getLogs returns at most MAX_LOGS logs: a query that would return more is refused
with -32602 instead of building an answer of any size."""

import json

import pytest
from fastapi.testclient import TestClient

from common.chain.accounts import ETHER, contract_address, genesis_alloc, sign, wallets
from common.chain.genesis import GenesisSpec
from common.chain.state import ChainConfig
from common.rpc import logs
from loadtest.workloads.contracts import load
from miner.app import create_app
from miner.node import MinerNode, MinerSettings

CONFIG = ChainConfig()
ERC20 = load("erc20")
OWNER, HOLDER = wallets(2, offset=4321)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = MinerSettings(
        data_dir=tmp_path_factory.mktemp("logs"),
        key=b"\x07" * 32,
        genesis=GenesisSpec(CONFIG, genesis_alloc([OWNER], 10 * ETHER)),
        block_txs=10_000,
        block_interval=3600,
    )
    node = MinerNode(settings)
    token = contract_address(OWNER.address, 0)
    raws = [sign(OWNER, 0, None, config=CONFIG, data=ERC20.deploy_data(10**30), gas=3_000_000)]
    transfer = ERC20.call_data("transfer", "0x" + HOLDER.address.hex(), 1)
    raws += [sign(OWNER, n, token, config=CONFIG, data=transfer) for n in range(1, 6)]
    for raw in raws:
        node.txpool.add(raw)
    assert node.produce_block() is not None
    with TestClient(create_app(node)) as test_client:
        yield test_client


def _logs(client, limit=None):
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [{"fromBlock": "0x0"}]}
    return client.post(
        "/", content=json.dumps(body), headers={"content-type": "application/json"}
    ).json()


def test_logs_under_the_cap_are_all_returned(client):
    assert len(_logs(client)["result"]) == 6  # the mint at deployment and five transfers


def test_a_query_over_the_cap_is_refused(client, monkeypatch):
    monkeypatch.setattr(logs, "MAX_LOGS", 5)
    answer = _logs(client)
    assert answer["error"] == {"code": -32602, "message": "query returns more than 5 logs"}
