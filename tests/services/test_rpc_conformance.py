"""The JSON-RPC face against the published specification (ethereum/execution-apis,
vendored in tests/vectors/execution_apis with the commit it came from).

On a process-mode testnet (a miner and a validator) carrying an ERC20 and
transactions of types 0, 1 and 2: every spec method either node implements answers
inside the spec's result schema, for real parameters of this chain; the spec's own
example parameters are accepted (whatever they find on this chain); errors carry
go-ethereum's codes. Then web3.py's filter API through a whole lifecycle, and its
WebSocket provider receiving new heads and logs of blocks mined during the test.
"""

import asyncio
import itertools
import json
import zlib
from typing import Any, cast

import httpx
import jsonschema
import pytest
import rlp
from eth.db.trie import make_trie_root_and_nodes
from eth.rlp.accounts import Account
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.prague.receipts import PragueTypedReceipt
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_hash.auto import keccak
from eth_typing import Address, BlockNumber, Hash32, HexStr
from hexbytes import HexBytes
from rlp.sedes import big_endian_int
from trie.hexary import HexaryTrie
from web3 import AsyncWeb3, Web3
from web3.providers.persistent import WebSocketProvider
from web3.types import AccessList, BlockData, LogReceipt, Nonce, TxParams, Wei

from common.chain.accounts import dev_accounts, sign
from common.chain.roots import trie_root
from common.chain.state import ChainConfig
from common.evm.subcalls import PARALLEL_ADDRESS
from common.rpc.client import NodeError, call
from common.rpc.ws import MAX_SUBSCRIPTIONS
from loadtest.testnet import process as testnet
from loadtest.workloads.contracts import load
from tests.rpc_spec import METHODS, check_result
from tests.services.helpers import poa, start_testnet, wait_for, web3_for

ERC20 = load("erc20")
TRANSFER = Web3.keccak(text="Transfer(address,address,uint256)")


def _raw(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer: dict[str, Any] = httpx.post(url, json=body, timeout=30).json()
    return answer


def _w3(url: str) -> Web3:
    return web3_for(url)


def _send(w3: Web3, account, tx: TxParams) -> HexBytes:
    tx.setdefault("chainId", 31337)
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.checksum, "pending"))
    tx.setdefault("gas", 100_000)
    signed = w3.eth.account.sign_transaction(tx, account.key)
    return w3.eth.send_raw_transaction(signed.raw_transaction)


class _Account:
    def __init__(self, wallet) -> None:
        self.key = wallet.key
        self.checksum = Web3.to_checksum_address(wallet.address)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A miner and a validator, an ERC20, and one transaction of each type 0, 1, 2."""
    net = start_testnet(
        tmp_path_factory.mktemp("conformance"),
        validators=1,
        workers=1,
        block_interval=0.3,
        block_txs=10,
    )
    try:
        w3 = _w3(net.miner.url)
        owner, alice = (_Account(w) for w in dev_accounts(2))
        token = w3.eth.contract(abi=list(ERC20.abi), bytecode=ERC20.bytecode)
        deploy = token.constructor(10**24).build_transaction(
            {"from": owner.checksum, "gas": 3_000_000, "nonce": 0, "chainId": 31337}
        )
        receipt = w3.eth.wait_for_transaction_receipt(_send(w3, owner, deploy), timeout=60)
        address = receipt["contractAddress"]
        assert address is not None
        erc20 = w3.eth.contract(address=address, abi=list(ERC20.abi))
        fee = Wei(w3.eth.gas_price * 2)
        transfer = erc20.functions.transfer(alice.checksum, 5).build_transaction(
            {"from": owner.checksum, "gas": 100_000, "maxFeePerGas": fee, "nonce": Nonce(1)}
        )
        hashes = [
            _send(w3, owner, transfer),
            _send(
                w3,
                alice,
                {"to": owner.checksum, "value": Wei(1), "gasPrice": fee, "nonce": Nonce(0)},
            ),
            _send(
                w3,
                alice,
                {
                    "to": address,
                    "value": Wei(0),
                    "gasPrice": fee,
                    "nonce": Nonce(1),
                    "type": 1,
                    "accessList": AccessList(
                        [{"address": address, "storageKeys": [HexStr("0x" + "00" * 32)]}]
                    ),
                    "data": erc20.encode_abi("balanceOf", [owner.checksum]),
                },
            ),
        ]
        receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=60) for h in hashes]
        head = max(r["blockNumber"] for r in receipts)
        wait_for(
            lambda: int(call(net.validators[0].url, "eth_blockNumber"), 16) >= head,
            what="the validator at the head",
        )
        yield {
            "net": net,
            "token": address.lower(),
            "owner": owner.checksum.lower(),
            "alice": alice.checksum.lower(),
            "hashes": ["0x" + h.hex() for h in hashes],
            "block": receipts[0]["blockNumber"],
            "block_hash": "0x" + receipts[0]["blockHash"].hex(),
        }
    finally:
        testnet.down(net)


def _cases(c: dict[str, Any], url: str) -> dict[str, list[list[Any]]]:
    """Spec-valid parameter lists for every implemented method, on this chain."""
    sender = dev_accounts(4)[3]
    nonce = int(call(url, "eth_getTransactionCount", ["0x" + sender.address.hex(), "pending"]), 16)
    raw = sign(sender, nonce, bytes(20), config=ChainConfig(), value=1, gas=21_000)
    token, owner, block = c["token"], c["owner"], hex(c["block"])
    call_object = {"from": owner, "to": token, "input": "0x70a08231" + "00" * 12 + owner[2:]}
    balance_slot = "0x" + "00" * 32
    logs = {"fromBlock": "0x0", "toBlock": "latest", "address": token, "topics": [None]}
    return {
        "eth_accounts": [[]],
        "eth_blobBaseFee": [[]],
        "eth_blockNumber": [[]],
        "eth_call": [
            [call_object, "latest"],
            [call_object, c["block_hash"]],
            [call_object, {"blockHash": c["block_hash"], "requireCanonical": True}],
            [call_object, {"blockNumber": block}],
        ],
        "eth_chainId": [[]],
        "eth_coinbase": [[]],
        "eth_estimateGas": [[call_object], [call_object, "latest"]],
        "eth_feeHistory": [["0x4", "latest", [10, 50]], ["0x2", block]],
        "eth_gasPrice": [[]],
        "eth_getBalance": [
            [owner, "latest"],
            [owner, c["block_hash"]],
            [owner, {"blockNumber": "0x0"}],
        ],
        "eth_getBlockByHash": [[c["block_hash"], False], [c["block_hash"], True]],
        "eth_getBlockByNumber": [
            ["latest", False],
            [block, True],
            ["0x0", False],
            ["earliest", True],
            ["finalized", False],
            ["0xffffff", False],
        ],
        "eth_getBlockReceipts": [[block], ["latest"], [c["block_hash"]]],
        "eth_getBlockTransactionCountByHash": [[c["block_hash"]]],
        "eth_getBlockTransactionCountByNumber": [[block], ["latest"]],
        "eth_getCode": [[token, "latest"], [token, c["block_hash"]]],
        "eth_getLogs": [
            [logs],
            [{"blockHash": c["block_hash"]}],
            [{"fromBlock": block, "toBlock": block, "topics": [["0x" + TRANSFER.hex()]]}],
        ],
        "eth_getProof": [
            [token, [balance_slot, "0x1"], "latest"],
            [owner, [], c["block_hash"]],
            ["0x" + "12" * 20, ["0x0"], "latest"],
        ],
        "eth_createAccessList": [[call_object], [call_object, "latest"]],
        "eth_getStorageAt": [[token, "0x0", "latest"], [token, balance_slot, c["block_hash"]]],
        "eth_getTransactionByBlockHashAndIndex": [
            [c["block_hash"], "0x0"],
            [c["block_hash"], "0x63"],
        ],
        "eth_getTransactionByBlockNumberAndIndex": [[block, "0x0"]],
        "eth_getTransactionByHash": [[h] for h in c["hashes"]] + [["0x" + "ab" * 32]],
        "eth_getTransactionCount": [
            [owner, "latest"],
            [owner, "pending"],
            [owner, c["block_hash"]],
        ],
        "eth_getTransactionReceipt": [[h] for h in c["hashes"]] + [["0x" + "ab" * 32]],
        "eth_maxPriorityFeePerGas": [[]],
        "eth_syncing": [[]],
        "eth_sendRawTransaction": [["0x" + raw.hex()]],
        "debug_traceTransaction": [
            [h, {"tracer": t}] for h in c["hashes"] for t in ("callTracer", "prestateTracer")
        ]
        + [[c["hashes"][0], {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}]]
        + [[c["hashes"][0]], [c["hashes"][0], {"enableMemory": True, "enableReturnData": True}]],
        "debug_traceBlockByNumber": [[block, {"tracer": "callTracer"}], [block, {"limit": 3}]],
        "debug_traceBlockByHash": [[c["block_hash"], {"tracer": "prestateTracer"}]],
        "debug_getRawHeader": [[block], ["latest"], [c["block_hash"]]],
        "debug_getRawBlock": [[block], ["0x0"]],
        "debug_getRawReceipts": [[block]],
        "debug_getRawTransaction": [[h] for h in c["hashes"]],  # unknown: null, as geth
        "eth_getStorageValues": [[{token: [balance_slot, "0x1"], owner: []}, "latest"]],
        "eth_simulateV1": [
            [_transfers(), "latest"],
            [{**_transfers(10**18, gas="0x5208"), "validation": True}],
            [{**_transfers(), "returnFullTransactions": True}, block],
        ],
        "eth_baseFee": [[]],
        "debug_getBadBlocks": [[]],
        "eth_config": [[]],
        "eth_capabilities": [[]],
        "eth_fillTransaction": [
            [call_object],
            [{"from": owner, "to": c["alice"], "value": "0x1", "gasPrice": "0x3b9aca00"}],
        ],
        "eth_sendTransaction": [[{"from": c["alice"], "to": owner, "value": "0x1"}]],
        "eth_signTransaction": [[{"from": c["alice"], "to": owner, "gas": "0x5208"}]],
        "eth_sign": [[c["alice"], "0xdeadbeaf"]],
        "net_version": [[]],
        "eth_newBlockFilter": [[]],
        "eth_newPendingTransactionFilter": [[]],
        "eth_newFilter": [[logs]],
        "eth_uninstallFilter": [["0x" + "00" * 16]],
        "txpool_status": [[]],
        "txpool_content": [[]],
        "txpool_contentFrom": [[owner]],
    }


FILTER_READS = ("eth_getFilterChanges", "eth_getFilterLogs")


def _implemented(url: str) -> set[str]:
    """The spec's methods this node serves (anything but -32601 'method not found')."""
    return {name for name in METHODS if _raw(url, name, []).get("error", {}).get("code") != -32601}


@pytest.mark.parametrize("node", ["miner", "validator"])
def test_every_implemented_method_answers_inside_its_schema(chain, node):
    net = chain["net"]
    url = net.miner.url if node == "miner" else net.validators[0].url
    implemented = _implemented(url)
    cases = _cases(chain, url)
    assert implemented - set(cases) - set(FILTER_READS) == set(), "methods without a case"
    for method in sorted(implemented - set(FILTER_READS)):
        for params in cases[method]:
            answer = _raw(url, method, params)
            assert "result" in answer, (method, params, answer)
            try:
                check_result(method, answer["result"])
            except jsonschema.ValidationError as exc:
                pytest.fail(f"{node} {method}{params}: {exc.message} at {list(exc.absolute_path)}")
    for method in FILTER_READS:
        if method in implemented:
            key = _raw(url, "eth_newFilter", [{"fromBlock": "0x0", "address": chain["token"]}])
            found = _raw(url, method, [key["result"]])["result"]
            check_result(method, found)
            assert found and all(entry["address"] == chain["token"] for entry in found)


def test_the_spec_examples_parameters_are_accepted(chain):
    """The spec's example requests (about mainnet) pass parameter parsing here: any
    answer is fine except 'method not found' and a refusal of the parameters' form."""
    url = chain["net"].miner.url
    for method in sorted(_implemented(url)):
        for example in METHODS[method].get("examples", []):
            params = [p["value"] for p in example.get("params", [])]
            answer = _raw(url, method, params)
            error = answer.get("error") or {}
            assert error.get("code") != -32601, (method, answer)
            form = ("invalid argument", "missing value", "too many arguments", "non-array")
            assert not (error.get("code") == -32602 and error["message"].startswith(form)), (
                method,
                params,
                answer,
            )


def test_errors_carry_go_ethereums_codes(chain):
    url, c = chain["net"].miner.url, chain
    cases = [
        ("eth_nope", [], -32601),
        ("eth_getBalance", ["0x1234", "latest"], -32602),
        ("eth_getBalance", [c["owner"], "0x012"], -32602),
        ("eth_getBalance", [c["owner"], "0xffffff"], -32000),
        ("eth_getBalance", [c["owner"], "0x" + "ab" * 32], -32000),
        ("eth_getBalance", [c["owner"], {"blockHash": "0x12"}], -32602),
        (
            "eth_getBalance",
            [c["owner"], {"blockNumber": "0x0", "blockHash": c["block_hash"]}],
            -32602,
        ),
        ("eth_getLogs", [{"blockHash": c["block_hash"], "fromBlock": "0x1"}], -32602),
        ("eth_getLogs", [{"fromBlock": "0x3", "toBlock": "0x2"}], -32602),
        ("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "0xffffff"}], -32602),
        ("eth_getFilterChanges", ["0x" + "00" * 16], -32000),
        ("eth_getTransactionByBlockNumberAndIndex", ["latest", "0x01"], -32602),
        ("eth_call", [{"to": c["token"], "input": "0x12"}, "latest"], 3),
        (
            "eth_fillTransaction",
            [{"from": c["owner"], "to": c["alice"], "accessList": "x"}],
            -32602,
        ),
        ("eth_sendTransaction", [{"from": c["alice"], "accessList": [None]}], -32602),
        ("eth_simulateV1", [{"blockStateCalls": [{"calls": 5}]}], -32602),
        ("eth_newFilter", [{"fromBlock": "0x3", "toBlock": "0x2"}], -32602),
    ]
    for method, params, code in cases:
        answer = _raw(url, method, params)
        assert answer.get("error", {}).get("code") == code, (method, params, answer)
    assert _raw(url, "eth_call", [{"to": c["token"], "input": "0x12"}])["error"]["message"] == (
        "execution reverted"
    )


def test_web3_filter_lifecycle(chain):
    net = chain["net"]
    w3 = _w3(net.miner.url)
    owner = _Account(dev_accounts(1)[0])
    token = w3.eth.contract(address=Web3.to_checksum_address(chain["token"]), abi=list(ERC20.abi))
    blocks = w3.eth.filter("latest")
    pending = w3.eth.filter("pending")
    transfers = token.events.Transfer.create_filter(from_block="latest")
    assert blocks.get_new_entries() == [] and transfers.get_new_entries() == []
    tx = token.functions.transfer(owner.checksum, 1).build_transaction(
        {"from": owner.checksum, "gas": 100_000, "maxFeePerGas": Wei(w3.eth.gas_price * 2)}
    )
    tx_hash = _send(w3, owner, tx)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    # a block or pending filter's entries are hashes, not the logs web3.py's types say
    assert tx_hash in cast(list[HexBytes], pending.get_new_entries())
    assert pending.get_new_entries() == []
    new_blocks = cast(list[HexBytes], wait_for(blocks.get_new_entries, what="new blocks"))
    assert receipt["blockHash"] in new_blocks
    events = transfers.get_new_entries()
    assert [e.transactionHash for e in events] == [tx_hash]
    assert events[0].args.value == 1 and events[0]["blockNumber"] == receipt["blockNumber"]
    assert transfers.get_new_entries() == []
    assert any(e.transactionHash == tx_hash for e in transfers.get_all_entries())
    assert blocks.filter_id is not None
    assert w3.eth.uninstall_filter(blocks.filter_id) is True
    assert w3.eth.uninstall_filter(blocks.filter_id) is False
    with pytest.raises(Exception, match="filter not found"):
        blocks.get_new_entries()


def test_websocket_subscriptions_deliver_heads_and_logs(chain):
    net = chain["net"]
    port = net.validators[0].url.rsplit(":", 1)[1]
    owner = _Account(dev_accounts(1)[0])
    token = Web3.to_checksum_address(chain["token"])

    async def run() -> tuple[list[BlockData], list[LogReceipt], str]:
        async with AsyncWeb3(WebSocketProvider(f"ws://127.0.0.1:{port}")) as w3:
            poa(w3)
            heads = await w3.eth.subscribe("newHeads")
            logs = await w3.eth.subscribe("logs", {"address": token, "topics": [TRANSFER]})
            sync = _w3(net.miner.url)
            erc20 = sync.eth.contract(address=token, abi=list(ERC20.abi))
            tx = erc20.functions.transfer(owner.checksum, 2).build_transaction(
                {
                    "from": owner.checksum,
                    "gas": 100_000,
                    "maxFeePerGas": Wei(sync.eth.gas_price * 2),
                    "nonce": sync.eth.get_transaction_count(owner.checksum, "pending"),
                    "chainId": 31337,
                }
            )
            signed = sync.eth.account.sign_transaction(tx, owner.key)
            tx_hash = "0x" + sync.eth.send_raw_transaction(signed.raw_transaction).hex()
            seen_heads, seen_logs = [], []
            async with asyncio.timeout(60):
                async for message in w3.socket.process_subscriptions():
                    if message["subscription"] == heads:
                        seen_heads.append(message["result"])
                    elif message["subscription"] == logs:
                        seen_logs.append(message["result"])
                    if seen_logs and seen_heads:
                        break
            assert await w3.eth.unsubscribe(heads) is True
            return seen_heads, seen_logs, tx_hash

    seen_heads, seen_logs, tx_hash = asyncio.run(run())
    assert "0x" + seen_logs[0]["transactionHash"].hex() == tx_hash
    assert int(seen_logs[0]["data"].hex(), 16) == 2
    head = seen_heads[0]
    block = call(net.validators[0].url, "eth_getBlockByNumber", [hex(head["number"]), False])
    assert block["hash"] == "0x" + head["hash"].hex()


def test_websocket_refuses_foreign_origins_and_bounds_subscriptions(chain):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    from websockets.typing import Origin

    url = chain["net"].miner.url.replace("http", "ws")
    with pytest.raises(InvalidStatus):
        connect(url, origin=Origin("https://evil.example")).close()
    with connect(url, origin=Origin("http://localhost:3000")) as socket:
        for i in range(MAX_SUBSCRIPTIONS + 1):
            socket.send(
                json.dumps(
                    {"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": ["newHeads"]}
                )
            )
            answer = json.loads(socket.recv(timeout=10))
        assert answer["error"]["message"].startswith("too many subscriptions")
        socket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}))
        assert json.loads(socket.recv(timeout=10))["result"] == "0x7a69"
    with pytest.raises(NodeError):
        call(chain["net"].miner.url, "eth_subscribe", ["newHeads"])


def _token_slots(url: str, chain: dict[str, Any]) -> list[int]:
    """The token's storage slots the ERC20 transfer of the fixture wrote."""
    rwsets = call(url, "pavm_getBlockRWSet", [hex(chain["block"])])
    return sorted(
        int(slot, 16)
        for rwset in rwsets
        for write in rwset["writes"]
        if write["address"] == chain["token"]
        for slot in write["storage"]
    )


def test_get_proof_verifies_against_the_state_root(chain):
    url = chain["net"].validators[0].url
    block = call(url, "eth_getBlockByNumber", ["latest", False])
    root = bytes.fromhex(block["stateRoot"][2:])
    slots = _token_slots(url, chain)
    assert slots
    missing = "0x" + "12" * 20
    for address, keys in (
        (chain["token"], [hex(k) for k in slots] + ["0x7777"]),
        (missing, ["0x0"]),
    ):
        answer = call(url, "eth_getProof", [address, keys, block["number"]])
        proof = [rlp.decode(bytes.fromhex(node[2:])) for node in answer["accountProof"]]
        encoded = HexaryTrie.get_from_proof(root, keccak(bytes.fromhex(address[2:])), proof)
        if address == missing:
            assert encoded == b"" and answer["balance"] == "0x0"
            continue
        account = rlp.decode(encoded, sedes=Account)
        assert hex(account.balance) == answer["balance"] and hex(account.nonce) == answer["nonce"]
        assert "0x" + account.storage_root.hex() == answer["storageHash"]
        assert "0x" + account.code_hash.hex() == answer["codeHash"]
        assert account.code_hash == keccak(bytes.fromhex(call(url, "eth_getCode", [address])[2:]))
        for entry in answer["storageProof"]:
            nodes = [rlp.decode(bytes.fromhex(node[2:])) for node in entry["proof"]]
            key = keccak(int(entry["key"], 16).to_bytes(32, "big"))
            value = HexaryTrie.get_from_proof(account.storage_root, key, nodes)
            assert (rlp.decode(value, sedes=big_endian_int) if value else 0) == int(
                entry["value"], 16
            )
            stored = call(url, "eth_getStorageAt", [address, entry["key"], block["number"]])
            assert int(stored, 16) == int(entry["value"], 16)
        assert any(int(e["value"], 16) for e in answer["storageProof"])
        assert answer["storageProof"][-1]["value"] == "0x0"  # slot 0x7777: proven absent


def test_create_access_list_gives_the_gas_a_listed_transaction_uses(chain):
    net = chain["net"]
    w3 = _w3(net.miner.url)
    sender = _Account(dev_accounts(6)[5])
    erc20 = w3.eth.contract(address=Web3.to_checksum_address(chain["token"]), abi=list(ERC20.abi))
    data = erc20.encode_abi("balanceOf", [Web3.to_checksum_address(chain["owner"])])
    request = {"from": sender.checksum.lower(), "to": chain["token"], "input": data}
    answer = call(net.miner.url, "eth_createAccessList", [request, "latest"])
    assert "error" not in answer
    (entry,) = answer["accessList"]
    assert entry["address"] == chain["token"] and len(entry["storageKeys"]) == 1
    assert int(entry["storageKeys"][0], 16) in _token_slots(net.miner.url, chain)
    tx: TxParams = {
        "to": erc20.address,
        "data": data,
        "gasPrice": Wei(w3.eth.gas_price * 2),
        "type": 1,
        "gas": 100_000,
        "accessList": AccessList([{"address": erc20.address, "storageKeys": entry["storageKeys"]}]),
    }
    receipt = w3.eth.wait_for_transaction_receipt(_send(w3, sender, tx), timeout=60)
    assert hex(receipt["gasUsed"]) == answer["gasUsed"]
    without = call(net.miner.url, "eth_estimateGas", [request])
    assert int(without, 16) != receipt["gasUsed"]  # the list changes the cost
    reverted = call(net.miner.url, "eth_createAccessList", [{**request, "input": "0x12"}])
    assert reverted["error"] == "execution reverted"


def test_traces_show_the_transaction_as_tools_expect(chain):
    """callTracer's frame of the ERC20 transfer, and prestateTracer's diff against the
    balances and storage the chain reports before and after the block."""
    url = chain["net"].validators[0].url
    transfer = chain["hashes"][0]
    receipt = call(url, "eth_getTransactionReceipt", [transfer])
    tx = call(url, "eth_getTransactionByHash", [transfer])
    frame = call(url, "debug_traceTransaction", [transfer, {"tracer": "callTracer"}])
    assert frame["type"] == "CALL" and frame["to"] == chain["token"]
    assert frame["from"] == chain["owner"] and frame["input"] == tx["input"]
    assert frame["gasUsed"] == receipt["gasUsed"] and int(frame["output"], 16) == 1
    assert "error" not in frame

    diff = call(
        url,
        "debug_traceTransaction",
        [transfer, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}],
    )
    token = chain["token"]
    written = set(diff["post"][token]["storage"])
    assert written == {f"0x{s:064x}" for s in _token_slots(url, chain)}
    block = hex(int(receipt["blockNumber"], 16))
    for slot, value in diff["post"][token]["storage"].items():
        assert int(call(url, "eth_getStorageAt", [token, slot, block]), 16) == int(value, 16)
    sender = diff["pre"][chain["owner"]]
    assert sender["nonce"] + 1 == diff["post"][chain["owner"]]["nonce"]
    plain = call(url, "debug_traceTransaction", [transfer, {"tracer": "prestateTracer"}])
    assert set(plain) >= {chain["owner"], token} and plain[token]["code"].startswith("0x")
    traces = call(url, "debug_traceBlockByNumber", [block, {"tracer": "callTracer"}])
    assert [t["txHash"] for t in traces][int(receipt["transactionIndex"], 16)] == transfer
    assert traces[int(receipt["transactionIndex"], 16)]["result"] == frame
    answer = _raw(url, "debug_traceTransaction", [transfer, {"tracer": "4byteTracer"}])
    assert "not offered" in answer["error"]["message"]
    assert answer["error"]["code"] == -32602


def _py_evm_transaction(tx: dict[str, Any]):
    """The transaction rebuilt with unmodified py-evm from the fields a node reports."""
    q = lambda name: int(tx[name], 16)  # noqa: E731
    to = Address(bytes.fromhex(tx["to"][2:]) if tx["to"] else b"")
    data = bytes.fromhex(tx["input"][2:])
    access = [
        (Address(bytes.fromhex(e["address"][2:])), [int(k, 16) for k in e["storageKeys"]])
        for e in tx.get("accessList", [])
    ]
    kind = q("type")
    builder = PragueTransactionBuilder
    if kind == 0:
        args = (q("nonce"), q("gasPrice"), q("gas"), to, q("value"), data, q("v"), q("r"), q("s"))
        return builder.new_transaction(*args)
    if kind == 1:
        return builder.new_access_list_transaction(
            q("chainId"), q("nonce"), q("gasPrice"), q("gas"), to, q("value"), data, access,
            q("yParity"), q("r"), q("s"),
        )  # fmt: skip
    return builder.new_dynamic_fee_transaction(
        q("chainId"), q("nonce"), q("maxPriorityFeePerGas"), q("maxFeePerGas"), q("gas"), to,
        q("value"), data, access, q("yParity"), q("r"), q("s"),
    )  # fmt: skip


def _py_evm_receipt(receipt: dict[str, Any]):
    logs = [
        Log(
            Address(bytes.fromhex(entry["address"][2:])),
            tuple(int(t, 16) for t in entry["topics"]),
            bytes.fromhex(entry["data"][2:]),
        )
        for entry in receipt["logs"]
    ]
    plain = Receipt(
        b"\x01" if receipt["status"] == "0x1" else b"",
        int(receipt["cumulativeGasUsed"], 16),
        logs,
        int(receipt["logsBloom"], 16),
    )
    kind = int(receipt["type"], 16)
    return plain if kind == 0 else PragueTypedReceipt(kind, plain)


def _py_evm_header(block: dict[str, Any]) -> PragueBlockHeader:
    """The header rebuilt with unmodified py-evm from a reported block object."""
    q = lambda name: int(block[name], 16)  # noqa: E731
    h = lambda name: bytes.fromhex(block[name][2:])  # noqa: E731
    k = lambda name: Hash32(h(name))  # noqa: E731
    return PragueBlockHeader(
        parent_hash=k("parentHash"), uncles_hash=k("sha3Uncles"), coinbase=Address(h("miner")),
        state_root=k("stateRoot"), transaction_root=k("transactionsRoot"),
        receipt_root=k("receiptsRoot"), bloom=q("logsBloom"), difficulty=q("difficulty"),
        block_number=BlockNumber(q("number")), gas_limit=q("gasLimit"), gas_used=q("gasUsed"),
        timestamp=q("timestamp"), extra_data=h("extraData"), mix_hash=k("mixHash"),
        nonce=h("nonce"), base_fee_per_gas=q("baseFeePerGas"),
        withdrawals_root=k("withdrawalsRoot"), blob_gas_used=q("blobGasUsed"),
        excess_blob_gas=q("excessBlobGas"),
        parent_beacon_block_root=k("parentBeaconBlockRoot"),
        requests_hash=k("requestsHash"),
    )  # fmt: skip


@pytest.mark.parametrize("node", ["miner", "validator"])
def test_block_hashes_and_roots_recompute_from_what_the_node_reports(chain, node):
    """With unmodified py-evm: every block hash from the reported header fields, every
    transactionsRoot from the reported transactions (whose hashes it recomputes too),
    every receiptsRoot and logsBloom from the reported receipts."""
    net = chain["net"]
    url = net.miner.url if node == "miner" else net.validators[0].url
    head = int(call(url, "eth_blockNumber"), 16)
    for number in range(head + 1):
        block = call(url, "eth_getBlockByNumber", [hex(number), True])
        q = lambda name, block=block: int(block[name], 16)  # noqa: E731
        h = lambda name, block=block: bytes.fromhex(block[name][2:])  # noqa: E731
        assert _py_evm_header(block).hash == h("hash"), number
        txs = [_py_evm_transaction(tx) for tx in block["transactions"]]
        assert ["0x" + tx.hash.hex() for tx in txs] == [t["hash"] for t in block["transactions"]]
        assert make_trie_root_and_nodes(txs)[0] == h("transactionsRoot"), number
        receipts = call(url, "eth_getBlockReceipts", [hex(number)])
        assert make_trie_root_and_nodes([_py_evm_receipt(r) for r in receipts])[0] == h(
            "receiptsRoot"
        )
        bloom = 0
        for r in receipts:
            bloom |= int(r["logsBloom"], 16)
        assert bloom == q("logsBloom")
    assert head >= 2 and any(call(url, "eth_getLogs", [{"fromBlock": "0x0"}]))


def test_raw_encodings_decode_with_py_evm(chain):
    """debug_getRaw*: py-evm decodes the block as a Prague block with the reported hash;
    the raw receipts make the header's receiptsRoot; raw transactions hash to theirs."""
    url = chain["net"].validators[0].url
    number = hex(chain["block"])
    reported = call(url, "eth_getBlockByNumber", [number, False])
    block = rlp.decode(bytes.fromhex(call(url, "debug_getRawBlock", [number])[2:]), PragueBlock)
    assert "0x" + block.header.hash.hex() == reported["hash"]
    assert ["0x" + tx.hash.hex() for tx in block.transactions] == reported["transactions"]
    header = call(url, "debug_getRawHeader", [number])
    assert keccak(bytes.fromhex(header[2:])).hex() == reported["hash"][2:]
    receipts = [bytes.fromhex(r[2:]) for r in call(url, "debug_getRawReceipts", [number])]
    assert "0x" + trie_root(receipts).hex() == reported["receiptsRoot"]
    for tx_hash in chain["hashes"]:
        raw = call(url, "debug_getRawTransaction", [tx_hash])
        assert "0x" + keccak(bytes.fromhex(raw[2:])).hex() == tx_hash
    values = call(url, "eth_getStorageValues", [{chain["token"]: ["0x0", "0x1"]}, number])
    assert values[chain["token"]] == [
        "0x{:064x}".format(int(call(url, "eth_getStorageAt", [chain["token"], k, number]), 16))
        for k in ("0x0", "0x1")
    ]


C0, C1, C2 = ("0x" + byte * 20 for byte in ("c0", "c1", "c2"))
RETURN_NUMBER = "0x435f5260205ff3"  # NUMBER PUSH0 MSTORE PUSH1 32 PUSH0 RETURN
REVERT = "0x5f5ffd"  # PUSH0 PUSH0 REVERT


def _transfers(balance: int = 1000, **fields: str) -> dict[str, Any]:
    """One block: C0 (given ``balance`` wei by an override) pays C1 1000 wei, which
    pays them on to C2."""
    calls = [
        {"from": C0, "to": C1, "value": "0x3e8", **fields},
        {"from": C1, "to": C2, "value": "0x3e8", **fields},
    ]
    overrides = {C0: {"balance": hex(balance)}, C1: {"balance": hex(balance - 1000)}}
    return {"blockStateCalls": [{"stateOverrides": overrides, "calls": calls}]}


def _simulate(url: str, payload: dict[str, Any], tag: str = "latest") -> dict[str, Any]:
    return _raw(url, "eth_simulateV1", [payload, tag])


def test_simulate_runs_blocks_of_calls_on_overridden_state_and_stores_nothing(chain):
    url = chain["net"].validators[0].url
    head = int(call(url, "eth_blockNumber"), 16)
    payload = _transfers()
    payload["blockStateCalls"] += [
        {"calls": [{"from": C2, "to": C0, "value": "0x3e8"}]},  # C2's wei carried over
        {
            "blockOverrides": {"number": hex(head + 10), "time": hex(2_000_000_000)},
            "stateOverrides": {C1: {"code": RETURN_NUMBER}, C2: {"code": REVERT}},
            "calls": [{"from": C0, "to": C1}, {"from": C0, "to": C2}],
        },
        {"calls": [{"from": C0, "to": C1}]},
    ]
    blocks = _simulate(url, payload)["result"]
    check_result("eth_simulateV1", blocks)
    assert [int(b["number"], 16) for b in blocks] == [head + 1, head + 2, head + 10, head + 11]
    assert [c["status"] for b in blocks for c in b["calls"]] == ["0x1"] * 4 + ["0x0", "0x1"]
    assert blocks[0]["calls"][0]["gasUsed"] == "0x5208" and blocks[0]["gasUsed"] == "0xa410"
    assert int(blocks[2]["calls"][0]["returnData"], 16) == head + 10
    assert int(blocks[3]["calls"][0]["returnData"], 16) == head + 11
    assert blocks[2]["calls"][1]["error"]["code"] == 3
    assert int(blocks[2]["timestamp"], 16) == 2_000_000_000
    parent = call(url, "eth_getBlockByNumber", ["latest", False])["hash"]
    for block in blocks:
        assert block["parentHash"] == parent
        assert "0x" + _py_evm_header(block).hash.hex() == block["hash"]
        parent = block["hash"]
    assert int(call(url, "eth_blockNumber"), 16) == head
    assert call(url, "eth_getBalance", [C2, "latest"]) == "0x0"


def test_simulate_validation_fails_with_the_specs_codes(chain):
    url = chain["net"].miner.url
    owner = chain["owner"]
    nonce = int(call(url, "eth_getTransactionCount", [owner, "latest"]), 16)

    def one(call_object: dict[str, Any], validation: bool = True) -> dict[str, Any]:
        payload = {"blockStateCalls": [{"calls": [call_object]}], "validation": validation}
        return _simulate(url, payload)

    assert one({"from": C0, "to": C1, "value": "0x1"}, False)["error"]["code"] == -38014
    assert one({"from": owner, "to": C1, "nonce": hex(nonce - 1)})["error"]["code"] == -38010
    assert one({"from": owner, "to": C1, "nonce": hex(nonce + 1)})["error"]["code"] == -38011
    assert one({"from": owner, "to": C1, "maxFeePerGas": "0x1"})["error"]["code"] == -38012
    assert one({"from": owner, "to": C1, "gas": "0x100"})["error"]["code"] == -38013
    ok = one({"from": owner, "to": C1, "nonce": hex(nonce), "value": "0x1"})["result"]
    assert ok[0]["calls"][0]["status"] == "0x1" and int(ok[0]["baseFeePerGas"], 16) > 0
    answer = _simulate(url, {"blockStateCalls": [{"blockOverrides": {"number": "0x1"}}]})
    assert answer["error"]["code"] == -38020
    assert _simulate(url, {"blockStateCalls": [{}] * 257})["error"]["code"] == -38026


def test_the_opcode_logger_steps_through_the_transfer(chain):
    url = chain["net"].miner.url
    transfer, plain = chain["hashes"][0], chain["hashes"][1]
    trace = call(url, "debug_traceTransaction", [transfer])
    receipt = call(url, "eth_getTransactionReceipt", [transfer])
    assert trace["gas"] == int(receipt["gasUsed"], 16) and trace["failed"] is False
    assert int(trace["returnValue"], 16) == 1
    logs = trace["structLogs"]
    assert logs[0]["pc"] == 0 and logs[0]["depth"] == 1 and logs[-1]["op"] in ("RETURN", "STOP")
    for entry, after in itertools.pairwise(logs):
        if entry["depth"] == after["depth"] and entry["op"].startswith("PUSH"):
            assert after["gas"] == entry["gas"] - entry["gasCost"]
    stores = [e for e in logs if e["op"] == "SSTORE"]
    written = {int(k, 16) for e in stores for k in e["storage"]}
    assert set(_token_slots(url, chain)) <= written
    assert all("storage" not in e for e in logs if e["op"] not in ("SLOAD", "SSTORE"))
    assert call(url, "debug_traceTransaction", [plain])["structLogs"] == []
    limited = call(url, "debug_traceTransaction", [transfer, {"limit": 5, "disableStack": True}])
    assert len(limited["structLogs"]) == 5 and "stack" not in limited["structLogs"][0]
    assert limited["gas"] == trace["gas"]


def test_fill_transaction_fills_what_a_wallet_would(chain):
    url = chain["net"].validators[0].url
    owner = chain["owner"]
    filled = call(
        url, "eth_fillTransaction", [{"from": owner, "to": chain["alice"], "value": "0x7"}]
    )
    tx = filled["tx"]
    assert tx["nonce"] == call(url, "eth_getTransactionCount", [owner, "latest"])
    assert tx["gas"] == "0x5208" and tx["type"] == "0x2" and tx["value"] == "0x7"
    assert int(tx["maxFeePerGas"], 16) >= int(call(url, "eth_baseFee"), 16)


def test_config_names_the_fork_of_this_chain(chain):
    url = chain["net"].miner.url
    config = call(url, "eth_config")["current"]
    genesis = bytes.fromhex(call(url, "eth_getBlockByNumber", ["0x0", False])["hash"][2:])
    assert config["forkId"] == f"0x{zlib.crc32(genesis):08x}"
    assert config["chainId"] == call(url, "eth_chainId")
    assert config["precompiles"]["ECREC"] == "0x" + "00" * 19 + "01"
    assert config["precompiles"]["PAVM_FORK_JOIN"] == "0x" + bytes(PARALLEL_ADDRESS).hex()
    assert call(chain["net"].validators[0].url, "eth_config")["current"] == config
