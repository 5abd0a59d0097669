"""web3.py against a process-mode testnet: a miner and three validators, on each transport.

Deploys the Vyper ERC20, transfers, waits for receipts, calls, reads logs; then every
validator must have agreed on every block, and state read from a validator must
equal the miner's.
"""

import pytest
from eth_abi import encode
from eth_typing import Address, HexStr
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.types import TxParams

from common.chain.accounts import dev_accounts
from common.evm.subcalls import PARALLEL_ADDRESS, SubCall, decode_results, encode_calls
from common.rpc.client import call
from loadtest.workloads.contracts import load
from tests.services.helpers import all_agree, start_testnet, wait_for, web3_for

ERC20 = load("erc20")


@pytest.fixture(scope="module", params=["http", "redis"])
def net(request, tmp_path_factory):
    """The same testnet once with blocks pushed over HTTP, once published on Redis only."""
    network = start_testnet(
        tmp_path_factory.mktemp("testnet"),
        validators=3,
        workers=2,
        transport=request.param,
        block_interval=0.3,
        block_txs=20,
    )
    yield network
    from loadtest.testnet import process as testnet

    testnet.down(network)


def test_erc20_lifecycle_agreed_by_every_validator(net):
    w3 = web3_for(net.miner.url)
    owner, alice, bob = dev_accounts(3)
    assert w3.eth.chain_id == 31337
    assert w3.eth.get_balance(Web3.to_checksum_address(owner.address)) == 10**24

    def send(account, tx):
        tx.setdefault("chainId", 31337)
        tx.setdefault(
            "nonce",
            w3.eth.get_transaction_count(Web3.to_checksum_address(account.address), "pending"),
        )
        tx.setdefault("maxFeePerGas", w3.eth.gas_price * 2)
        tx.setdefault("maxPriorityFeePerGas", w3.eth.max_priority_fee)
        signed = w3.eth.account.sign_transaction(tx, account.key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        assert tx_hash == signed.hash  # the same hash web3.py computes
        return tx_hash

    factory = w3.eth.contract(abi=list(ERC20.abi), bytecode=ERC20.bytecode)
    deploy = factory.constructor(10**24).build_transaction(
        {"from": Web3.to_checksum_address(owner.address), "gas": 2_000_000, "nonce": 0}
    )
    receipt = w3.eth.wait_for_transaction_receipt(send(owner, deploy), timeout=30)
    assert receipt["status"] == 1 and receipt["contractAddress"]
    token = w3.eth.contract(address=receipt["contractAddress"], abi=list(ERC20.abi))
    assert w3.eth.get_code(receipt["contractAddress"])

    hashes = []
    for i, receiver in enumerate([alice, bob] * 3):
        call = token.functions.transfer(Web3.to_checksum_address(receiver.address), 100 + i)
        gas = call.estimate_gas({"from": Web3.to_checksum_address(owner.address)})
        hashes.append(
            send(
                owner,
                call.build_transaction(
                    {"from": Web3.to_checksum_address(owner.address), "gas": gas}
                ),
            )
        )
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=30) for h in hashes]
    assert all(r["status"] == 1 for r in receipts)
    assert receipts[0]["effectiveGasPrice"] > 0 and receipts[0]["logs"]

    alice_balance = sum(100 + i for i in (0, 2, 4))
    assert (
        token.functions.balanceOf(Web3.to_checksum_address(alice.address)).call() == alice_balance
    )
    # eth_call runs the chain's fork: the fork-join precompile answers for two threads
    selector = function_signature_to_4byte_selector("balanceOf(address)")
    token_address = Address(bytes.fromhex(receipt["contractAddress"][2:]))
    calls = [
        SubCall(tid, token_address, selector + encode(["address"], [a.address]))
        for tid, a in ((1, alice), (2, bob))
    ]
    request: TxParams = {
        "to": "0x" + PARALLEL_ADDRESS.hex(),
        "data": HexStr("0x" + encode_calls(calls).hex()),
    }
    answer = [int.from_bytes(r.output, "big") for r in decode_results(w3.eth.call(request))]
    assert answer == [alice_balance, sum(100 + i for i in (1, 3, 5))]
    events = token.events.Transfer().get_logs(from_block=0)
    assert len(events) == 1 + 6  # the mint in the constructor, then six transfers
    to_alice = w3.eth.get_logs(
        {
            "address": receipt["contractAddress"],
            "topics": [None, None, "0x" + bytes(12).hex() + alice.address.hex()],
            "fromBlock": 0,
        }
    )
    assert len(to_alice) == 3

    head = wait_for(lambda: all_agree(net), what="every validator agreeing on every block")
    assert head >= receipts[-1]["blockNumber"]
    for validator in net.validators:
        v3 = web3_for(validator.url)

        def at_head(v3: Web3 = v3) -> bool:
            return v3.eth.block_number >= head

        wait_for(at_head, what=f"{validator.name} at head")
        for account in (owner, alice, bob):
            address = Web3.to_checksum_address(account.address)
            assert v3.eth.get_balance(address, head) == w3.eth.get_balance(address, head)
        at_validator = v3.eth.contract(address=receipt["contractAddress"], abi=list(ERC20.abi))
        assert (
            at_validator.functions.balanceOf(Web3.to_checksum_address(alice.address)).call()
            == alice_balance
        )
        assert v3.eth.get_transaction_receipt(hashes[0])["status"] == 1
        assert v3.eth.get_block(head)["hash"] == w3.eth.get_block(head)["hash"]


def test_pavm_methods_describe_blocks_and_operations(net):

    w3 = web3_for(net.miner.url)
    owner, alice = dev_accounts(2)
    signed = w3.eth.account.sign_transaction(
        {
            "to": Web3.to_checksum_address(alice.address),
            "value": 12345,
            "gas": 21_000,
            "nonce": w3.eth.get_transaction_count(
                Web3.to_checksum_address(owner.address), "pending"
            ),
            "chainId": 31337,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        },
        owner.key,
    )
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    number = hex(receipt["blockNumber"])

    for url in (net.miner.url, net.validators[0].url):

        def at_block(url: str = url) -> bool:
            return int(call(url, "eth_blockNumber"), 16) >= receipt["blockNumber"]

        wait_for(at_block, what="the block at " + url)
        ops = call(url, "pavm_getOperationReceipt", ["0x" + tx_hash.hex()])
        commitments = call(url, "pavm_getBlockCommitments", [number])
        receipt_hashes = commitments["receipts"][receipt["transactionIndex"]]
        assert (ops["readHash"], ops["writeHash"]) == (
            receipt_hashes["readHash"],
            receipt_hashes["writeHash"],
        )
        kinds = [op["op"] for op in ops["operations"]]
        assert "read_nonce" in kinds and "write_balance" in kinds and kinds[-1] == "refund"
        written = {
            op["address"]: op["value"] for op in ops["operations"] if op["op"] == "write_balance"
        }
        assert "0x" + alice.address.hex() in written
        rwsets = call(url, "pavm_getBlockRWSet", [number])
        groups = call(url, "pavm_getBlockGroups", [number])
        index = receipt["transactionIndex"]
        assert any(index in g["transactions"] for g in groups)
        assert any(w["address"] == "0x" + alice.address.hex() for w in rwsets[index]["writes"])
    verdicts = wait_for(
        lambda: (v := call(net.miner.url, "pavm_getVerdicts", [number])) and len(v) == 3 and v,
        what="three verdicts",
    )
    assert all(v["agree"] and v["validation_ms"] > 0 for v in verdicts)


def test_blocks_with_full_transactions_and_metrics(net):
    import httpx

    w3 = web3_for(net.miner.url)
    head = w3.eth.block_number
    block = w3.eth.get_block(head, full_transactions=True)
    assert block["baseFeePerGas"] > 0 and block["transactions"]
    first = block["transactions"][0]
    assert not isinstance(first, bytes)  # full transactions, not their hashes
    assert first["blockNumber"] == head
    assert w3.eth.get_block("earliest")["number"] == 0
    assert w3.eth.get_block("pending")["number"] == head
    by_hash = w3.eth.get_block(block["hash"])
    assert by_hash["transactions"][0] == first["hash"]

    miner = httpx.get(net.miner.url + "/metrics").text
    for name in (
        "pavm_blocks_total",
        "pavm_txs_total",
        "pavm_pool_size",
        "pavm_peers",
        "pavm_rpc_calls",
    ):
        assert name in miner, name
    validator = httpx.get(net.validators[0].url + "/metrics").text
    for name in (
        "pavm_blocks_total",
        "pavm_validation_seconds_bucket",
        "pavm_groups",
        "pavm_speedup_estimate",
        "pavm_worker_cpu_seconds_total",
        "pavm_head",
    ):
        assert name in validator, name
    blocks = [line for line in validator.splitlines() if line.startswith("pavm_blocks_total")]
    assert float(blocks[0].split()[-1]) >= 1
