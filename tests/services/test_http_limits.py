"""HTTP edges of a real node process: a request that never finishes is cut off after
the read timeout (slow loris), and a Host that is no IP, localhost or allowed name is
refused (DNS rebinding)."""

import socket
import subprocess
import sys

import httpx
import pytest

from loadtest.testnet import process as testnet


@pytest.fixture(scope="module")
def miner(tmp_path_factory):
    port = testnet.free_base_port(span=1)
    folder = tmp_path_factory.mktemp("http-limits")
    command = [
        *(sys.executable, "-m", "miner", "--data-dir", str(folder), "--port", str(port)),
        *("--block-interval", "3600", "--read-timeout", "1", "--allowed-hosts", "miner"),
    ]
    with open(folder / "miner.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        testnet.wait_healthy(url, process.pid)
        yield url, port
    finally:
        process.terminate()
        process.wait(10)


def test_a_request_that_never_finishes_is_cut_off(miner):
    url, port = miner
    idle = socket.create_connection(("127.0.0.1", port))
    partial = socket.create_connection(("127.0.0.1", port))
    partial.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
    for held in (idle, partial):
        held.settimeout(20)  # the node's read timeout is 1 s: a recv still waiting fails
        while held.recv(1024):
            pass
    assert httpx.get(url + "/health", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "host, status",
    [
        ("127.0.0.1", 200),
        ("[::1]:8545", 200),
        ("localhost:8545", 200),
        ("miner:8545", 200),
        ("evil.example", 403),
        ("127.0.0.1.evil.example:8545", 403),
    ],
)
def test_only_ip_addresses_localhost_and_allowed_names_may_be_addressed(miner, host, status):
    url, _ = miner
    answer = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, headers={"host": host}
    )
    assert answer.status_code == status
    if status == 200:
        assert answer.json()["result"] == "0x7a69"
