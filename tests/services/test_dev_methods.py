"""A dev network's conveniences, as tools use them, on a process-mode testnet (a
miner and a validator): signing for the development accounts, steering mining and
timestamps. Every block they make must still be agreed by the validator."""

import time
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from web3.types import Wei

from common.chain.accounts import dev_accounts
from common.evm.forks import decode_transaction
from common.rpc.client import NodeError, call
from loadtest.testnet import process as testnet
from tests.services.helpers import all_agree, start_testnet, wait_for, web3_for

TYPED = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
        ],
        "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "pavm", "chainId": 31337},
    "message": {"to": "0x" + "11" * 20, "contents": "hello"},
}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = start_testnet(
        tmp_path_factory.mktemp("dev"), validators=1, workers=1, block_interval=0.3
    )
    yield network
    testnet.down(network)


def _head(url: str) -> dict[str, Any]:
    head: dict[str, Any] = call(url, "eth_getBlockByNumber", ["latest", False])
    return head


def test_accounts_sign_and_send_for_the_dev_accounts(net):
    w3 = web3_for(net.miner.url)
    accounts = w3.eth.accounts
    assert [a.lower() for a in accounts] == ["0x" + w.address.hex() for w in dev_accounts(10)]
    sender, recipient = list(accounts)[:2]
    before = w3.eth.get_balance(recipient)
    tx_hash = w3.eth.send_transaction({"from": sender, "to": recipient, "value": Wei(12345)})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1 and w3.eth.get_balance(recipient) == before + 12345
    assert w3.eth.get_transaction(tx_hash)["from"] == sender

    raw = call(
        net.miner.url,
        "eth_signTransaction",
        [{"from": sender.lower(), "to": recipient.lower(), "value": "0x1"}],
    )
    tx = decode_transaction(bytes.fromhex(raw["raw"][2:]))
    assert raw["tx"]["hash"] == "0x" + tx.hash.hex()
    assert "0x" + tx.sender.hex() == sender.lower() and tx.value == 1 and tx.gas == 21_000

    signature = call(net.miner.url, "eth_sign", [sender.lower(), "0xdeadbeef"])
    message = encode_defunct(primitive=bytes.fromhex("deadbeef"))
    assert Account.recover_message(message, signature=signature) == sender
    typed = call(net.miner.url, "eth_signTypedData_v4", [sender.lower(), TYPED])
    assert Account.recover_message(encode_typed_data(full_message=TYPED), signature=typed) == sender

    stranger = "0x" + "42" * 20
    with pytest.raises(NodeError, match="unknown account"):
        call(net.miner.url, "eth_sendTransaction", [{"from": stranger, "to": stranger}])


def test_mining_is_steered_and_every_block_still_agreed(net):
    url = net.miner.url
    accounts = call(url, "eth_accounts")
    assert call(url, "evm_setIntervalMining", [0]) is True
    assert call(url, "evm_setAutomine", [False]) is True
    start = int(_head(url)["number"], 16)
    tx_hash = call(
        url, "eth_sendTransaction", [{"from": accounts[2], "to": accounts[3], "value": "0x5"}]
    )
    time.sleep(1.0)
    assert call(url, "eth_getTransactionReceipt", [tx_hash]) is None
    assert call(url, "txpool_status") == {"pending": "0x1", "queued": "0x0"}

    assert call(url, "evm_mine") == "0x0"
    mined = call(url, "eth_getTransactionReceipt", [tx_hash])
    assert int(mined["blockNumber"], 16) == start + 1

    call(url, "evm_mine")
    empty = _head(url)
    assert int(empty["number"], 16) == start + 2 and empty["transactions"] == []

    offset = int(call(url, "evm_increaseTime", [3600]), 16)
    assert offset >= 3600
    call(url, "evm_mine")
    assert int(_head(url)["timestamp"], 16) >= int(time.time()) + 3600 - 5

    target = int(_head(url)["timestamp"], 16) + 1000
    call(url, "evm_setNextBlockTimestamp", [hex(target)])
    call(url, "evm_mine")
    assert int(_head(url)["timestamp"], 16) == target
    with pytest.raises(NodeError, match="not after the head"):
        call(url, "evm_setNextBlockTimestamp", [target])

    assert call(url, "evm_setAutomine", [True]) is True
    tx_hash = call(
        url, "eth_sendTransaction", [{"from": accounts[2], "to": accounts[3], "value": "0x6"}]
    )
    wait_for(lambda: call(url, "eth_getTransactionReceipt", [tx_hash]), 10, "automine")
    call(url, "evm_setIntervalMining", [300])
    head = int(_head(url)["number"], 16)
    wait_for(lambda: all_agree(net) == head or None, 60, "the validator agreeing on every block")
    validator = net.validators[0].url
    report = call(validator, "pavm_getValidationReport", [mined["blockNumber"]])
    assert report["blockHash"] == mined["blockHash"] and report["transactions"] == 1
    assert report["groups"] == 1 and report["strategy"] == "groups"
    assert report["phasesMs"]["total"] >= report["phasesMs"]["execute"] > 0
    assert len(report["workerCpuMs"]) == report["workers"] and report["speedupEstimate"] > 0
    assert len(report["cores"]) == len(report["workerUtilisation"]) == report["workers"]
    (span,) = report["spans"]
    assert span["kind"] == "group" and span["id"] == 0
    assert 0 <= span["startMs"] <= span["endMs"] <= report["phasesMs"]["execute"]
    assert call(validator, "pavm_getValidationReport", [hex(head + 100)]) is None


def test_state_changes_outside_transactions_are_refused_with_the_reason(net):
    for method in ("evm_snapshot", "evm_revert", "anvil_setBalance", "hardhat_impersonateAccount"):
        answer = call_raw(net.miner.url, method)
        assert answer["error"]["code"] == -32601
        assert "validators" in answer["error"]["message"], answer


def call_raw(url: str, method: str) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": []}
    answer: dict[str, Any] = httpx.post(url, json=body, timeout=10).json()
    return answer


def test_validators_offer_no_signing(net):
    assert call(net.validators[0].url, "eth_accounts") == []
    with pytest.raises(NodeError, match="does not exist"):
        call(net.validators[0].url, "eth_sendTransaction", [{}])
