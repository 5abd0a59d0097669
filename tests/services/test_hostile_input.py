"""What a stranger sends to a running testnet's ports never takes a node down.

Deeply nested JSON (100,000 ``[``) and deeply nested RLP (35,000 empty lists, under the
transaction size limit) used to overflow the C stack of every node they reached: py_ecc,
imported through py-evm, raises Python's recursion limit to 100,000, and the JSON and
RLP decoders recurse natively. Each is sent here to every port that takes it, over HTTP
and Redis; every node must answer with a clear error (or drop the message), stay up,
and go on mining and agreeing on the blocks that follow.
"""

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from common.chain.accounts import dev_accounts, sign
from common.chain.state import ChainConfig
from common.net.keyfile import read_token
from common.net.membership import Registration
from common.net.transport import Verdict
from common.rpc.client import NodeError, call
from loadtest.testnet import process as testnet
from tests.services.helpers import all_agree, metric, start_testnet, wait_for
from tests.signing import high_s_twin

NESTED_JSON = b"[" * 100_000
NESTED_RLP = b"\xc0"
for _ in range(35_000):
    NESTED_RLP = (
        bytes([0xC0 + len(NESTED_RLP)])
        if len(NESTED_RLP) < 56
        else bytes([0xF7 + (len(NESTED_RLP).bit_length() + 7) // 8])
        + len(NESTED_RLP).to_bytes((len(NESTED_RLP).bit_length() + 7) // 8, "big")
    ) + NESTED_RLP


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = start_testnet(
        tmp_path_factory.mktemp("hostile"),
        validators=1,
        workers=1,
        transport="both",
        block_interval=0.2,
        validator_args=["--poll-interval", "0.5"],
    )
    yield network
    testnet.down(network)


@pytest.fixture(scope="module")
def mined(net):
    """At least one block mined, for verdicts to be about."""
    _still_serving(net)


def _post(url: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(url, content=body, headers={"content-type": content_type}, timeout=30)


def _still_serving(net: testnet.Testnet) -> None:
    """Every node answers, and a transaction sent now is mined and agreed on."""
    for node in net.nodes:
        if node.role != "redis":
            assert httpx.get(node.url + "/health", timeout=5).status_code in (200, 503)
    wallet = dev_accounts(3)[2]
    nonce = int(
        call(net.miner.url, "eth_getTransactionCount", ["0x" + wallet.address.hex(), "pending"]), 16
    )
    raw = sign(wallet, nonce, b"\x42" * 20, config=ChainConfig(), value=1, gas=21_000)
    tx_hash = call(net.miner.url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    receipt = wait_for(
        lambda: call(net.miner.url, "eth_getTransactionReceipt", [tx_hash]), what="receipt"
    )
    block = int(receipt["blockNumber"], 16)
    wait_for(lambda: (all_agree(net) or 0) >= block, what="every validator agrees")


def test_the_rlp_fixture_is_35000_levels_deep_and_under_the_transaction_limit():
    assert len(NESTED_RLP) < 128 * 1024
    depth, item = 0, NESTED_RLP
    while item != b"\xc0":
        depth += 1
        header = item[0] - 0xF7 if item[0] > 0xF7 else 0
        item = item[1 + header :]
    assert depth == 35_000


def test_nested_json_gets_a_parse_error_on_every_json_endpoint(net):
    validator = net.validators[0]
    answer = _post(net.miner.url, NESTED_JSON).json()
    assert answer["error"]["code"] == -32700
    assert _post(validator.url, NESTED_JSON).json()["error"]["code"] == -32700
    for path in ("/verdicts", "/validators"):
        assert _post(net.miner.url + path, NESTED_JSON[:60_000]).status_code == 400
        assert _post(net.miner.url + path, NESTED_JSON).status_code == 413
    _still_serving(net)


@pytest.mark.parametrize("path", ["/verdicts", "/validators"])
def test_what_a_web_page_could_post_cross_site_is_refused(net, path):
    """text/plain needs no CORS preflight, so any page an operator opens could send it."""
    answer = _post(net.miner.url + path, b'{"url": "http://127.0.0.1:9"}', "text/plain")
    assert answer.status_code == 415


def test_redis_answers_no_one_without_the_password(net):
    """The launcher's Redis requires the password it made (mode 0600 in the data dir),
    which no command line shows; a client without it can neither publish, subscribe
    nor run commands that would stop the transport."""
    password_file = Path(net.data_dir) / testnet.REDIS_PASSWORD_FILE
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = net.redis_password()
    assert password
    for node in net.nodes:
        cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes()
        assert password.encode() not in cmdline
    with redis.Redis.from_url(net.redis_url) as stranger:
        for command in (
            ("PUBLISH", "pavm:blocks", b"x"),
            ("SUBSCRIBE", "pavm:verdicts"),
            ("SHUTDOWN",),
            ("CONFIG", "SET", "requirepass", ""),
        ):
            with pytest.raises(redis.AuthenticationError):
                stranger.execute_command(*command)
    with (
        redis.Redis.from_url(net.redis_url, password="0" * 64) as guesser,
        pytest.raises(redis.AuthenticationError),
    ):
        guesser.ping()
    _still_serving(net)


def test_nested_json_on_the_verdicts_channel_is_ignored(net):
    with redis.Redis.from_url(net.redis_url, password=net.redis_password()) as client:
        client.publish("pavm:verdicts", NESTED_JSON)
    _still_serving(net)


def test_nested_rlp_as_a_raw_transaction_is_refused(net):
    with pytest.raises(NodeError) as caught:
        call(net.miner.url, "eth_sendRawTransaction", ["0x" + NESTED_RLP.hex()], timeout=30)
    assert "rlp" in str(caught.value).lower()
    _still_serving(net)


def test_an_empty_push_is_a_malformed_block_not_a_signal(net):
    validator = net.validators[0]
    before = metric(validator.url, "pavm_dropped_blocks_total", 'cause="malformed"')
    assert _post(validator.url + "/blocks", b"", "application/octet-stream").status_code < 500
    wait_for(
        lambda: metric(validator.url, "pavm_dropped_blocks_total", 'cause="malformed"') > before,
        what="the empty push dropped",
    )


def test_nested_rlp_as_a_block_is_dropped(net):
    validator = net.validators[0]
    before = metric(validator.url, "pavm_dropped_blocks_total", 'cause="malformed"')
    assert (
        _post(validator.url + "/blocks", NESTED_RLP, "application/octet-stream").status_code < 500
    )
    with redis.Redis.from_url(net.redis_url, password=net.redis_password()) as client:
        client.publish("pavm:blocks", NESTED_RLP)
    wait_for(
        lambda: (
            metric(validator.url, "pavm_dropped_blocks_total", 'cause="malformed"') >= before + 2
        ),
        what="both malformed blocks (HTTP and Redis) counted as dropped",
    )
    _still_serving(net)


PROBE_KEY = b"\x05" * 32
"""The key of "probe", a member the tests register with the testnet's join token (the
tests read it from the data dir, as an operator could)."""


@pytest.fixture(scope="module")
def probe(net):
    """Register "probe" as a member, so its verdicts are authentic."""
    token = read_token(Path(net.data_dir) / testnet.JOIN_TOKEN_FILE)
    registration = Registration.make("probe", PROBE_KEY, "", token)
    answer = httpx.post(net.miner.url + "/validators", json=registration.to_json(), timeout=10)
    assert answer.status_code == 200, answer.text


def _verdict(net: testnet.Testnet, key: bytes = PROBE_KEY, **fields: object) -> dict[str, Any]:
    """A verdict by "probe" on the miner's latest block, signed by ``key``, then with
    ``fields`` replaced (after signing: a changed field breaks the signature unless it
    is one the signature does not cover)."""
    head = call(net.miner.url, "eth_getBlockByNumber", ["latest", False])
    verdict = Verdict("probe", int(head["number"], 16), head["hash"], True, "", 1.0)
    return {**verdict.signed_by(key).to_json(), **fields}


def _recorded(net: testnet.Testnet, number: int) -> set[str]:
    return {v["validator"] for v in call(net.miner.url, "pavm_getVerdicts", [hex(number)])}


@pytest.mark.parametrize(
    "fields, status, message",
    [
        ({"agree": "false"}, 400, "agree must be true or false"),
        ({"number": -1}, 400, "number must be an integer"),
        ({"number": 2**64}, 400, "number must be an integer"),
        ({"number": 1.0}, 400, "number must be an integer"),
        ({"validator": "x" * 600}, 400, "validator must be 1-64 characters"),
        ({"reason": "r" * 5000}, 400, "reason must be a string of at most 1024"),
        ({"signature": ""}, 400, "signature must be 0x and 130 hex digits"),
        ({"agree": False}, 403, "not signed by a member named probe"),
        ({"validation_ms": 99.0}, 403, "not signed by a member named probe"),
        ({"validator": "validator-1"}, 403, "not signed by a member named validator-1"),
        ({"validator": "stranger"}, 403, "not signed by a member named stranger"),
    ],
)
def test_a_verdict_out_of_shape_or_not_signed_by_its_member_is_refused(
    net, mined, probe, fields, status, message
):
    verdict = _verdict(net, **fields)
    answer = httpx.post(net.miner.url + "/verdicts", json=verdict, timeout=10)
    assert answer.status_code == status
    assert message in answer.json()["detail"]
    number = verdict["number"]
    if isinstance(number, int) and 0 <= number < 2**63:
        assert not {"probe", "stranger"} & _recorded(net, number)
        assert all(v["agree"] for v in call(net.miner.url, "pavm_getVerdicts", [hex(number)]))


def test_a_members_verdict_about_a_block_not_mined_here_is_refused(net, mined, probe):
    head = call(net.miner.url, "eth_getBlockByNumber", ["latest", False])
    for number, block_hash in ((int(head["number"], 16), "0x" + "ab" * 32), (10**12, head["hash"])):
        verdict = Verdict("probe", number, block_hash, False, "made up").signed_by(PROBE_KEY)
        answer = httpx.post(net.miner.url + "/verdicts", json=verdict.to_json(), timeout=10)
        assert answer.status_code == 400
        assert "this miner mined no such block" in answer.json()["detail"]


@pytest.mark.parametrize(
    "change, status, message",
    [
        ({"proof": "0x" + "00" * 32}, 403, "does not prove the network's join token"),
        ({"url": "http://127.0.0.1:1/steal?x=1"}, 400, "url must be scheme://host:port"),
        ({"url": "file:///etc/passwd"}, 400, "url must be scheme://host:port"),
        ({"name": "a b"}, 400, "name must be 1-64 characters"),
        ({"address": "0x12"}, 400, "address must be 0x and 40 hex digits"),
    ],
)
def test_a_registration_without_the_join_token_or_out_of_shape_is_refused(
    net, change, status, message
):
    wrong_token = Registration.make("intruder", b"\x09" * 32, "http://127.0.0.1:9", b"w" * 32)
    answer = httpx.post(
        net.miner.url + "/validators", json={**wrong_token.to_json(), **change}, timeout=10
    )
    assert answer.status_code == status
    assert message in answer.json()["detail"]
    info = call(net.miner.url, "pavm_nodeInfo")
    assert "intruder" not in info["members"] and "http://127.0.0.1:9" not in info["peers"]


def test_bad_verdicts_on_the_redis_channel_are_skipped_and_the_listener_goes_on(net, mined, probe):
    good = _verdict(net)
    number = good["number"]
    with redis.Redis.from_url(net.redis_url, password=net.redis_password()) as client:
        for fields in ({"number": -1}, {"number": 2**64}, {"block_hash": "0x" + "cd" * 32}):
            client.publish("pavm:verdicts", json.dumps({**good, **fields}))
        client.publish("pavm:verdicts", json.dumps(_verdict(net, key=b"\x06" * 32)))
    _still_serving(net)
    assert "probe" not in _recorded(net, number)
    # The listener still takes the next authentic verdict. It makes "probe" a voter,
    # so this test runs last in the module.
    with redis.Redis.from_url(net.redis_url, password=net.redis_password()) as client:
        client.publish("pavm:verdicts", json.dumps(good))
    wait_for(lambda: "probe" in _recorded(net, number), what="the listener still listening")
    # Recorded once: the same verdict again, or its high-s twin, changes nothing.
    answer = httpx.post(net.miner.url + "/verdicts", json=good, timeout=10)
    assert answer.status_code == 409 and "already recorded" in answer.json()["detail"]
    twin = "0x" + high_s_twin(bytes.fromhex(str(good["signature"])[2:])).hex()
    answer = httpx.post(net.miner.url + "/verdicts", json={**good, "signature": twin}, timeout=10)
    assert answer.status_code == 403
    verdicts = call(net.miner.url, "pavm_getVerdicts", [hex(number)])
    assert [v for v in verdicts if v["validator"] == "probe"] == [good]
