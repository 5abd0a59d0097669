"""The JSON-RPC client every caller uses, against a real miner process (and, for answers
that are no JSON-RPC at all, a plain HTTP server standing in for a proxy's error page)."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from common.rpc.client import NodeError, RpcClient, call
from loadtest.testnet import process as testnet
from tests.services.helpers import start_testnet


@pytest.fixture(scope="module")
def miner_url(tmp_path_factory):
    net = start_testnet(tmp_path_factory.mktemp("rpc-client"), validators=0, workers=1)
    try:
        yield net.miner.url
    finally:
        testnet.down(net)


def test_a_call_returns_the_result(miner_url):
    assert call(miner_url, "eth_chainId") == hex(31337)
    with RpcClient(miner_url) as node:
        assert node.call("eth_getBlockByNumber", ["0x0", False])["number"] == "0x0"
        assert node.call("eth_getBlockByNumber", ["0x7", False]) is None


def test_an_error_object_raises_with_the_nodes_code_and_message(miner_url):
    with pytest.raises(NodeError) as caught:
        call(miner_url, "eth_mine")
    assert caught.value.code == -32601
    assert caught.value.method == "eth_mine"
    assert "does not exist" in caught.value.message
    assert str(caught.value).startswith(f"eth_mine on {miner_url}: ")


def test_a_batch_answers_in_the_order_asked(miner_url):
    with RpcClient(miner_url) as node:
        answers = node.batch(
            [
                ("net_version", []),
                ("eth_chainId", []),
                ("eth_getBlockTransactionCountByNumber", ["0x0"]),
            ]
        )
        assert answers == ["31337", hex(31337), "0x0"]
        assert node.batch([]) == []


def test_a_batch_raises_for_the_call_that_failed(miner_url):
    with RpcClient(miner_url) as node, pytest.raises(NodeError) as caught:
        node.batch([("eth_chainId", []), ("eth_getBalance", ["0x1234", "latest"])])
    assert caught.value.method == "eth_getBalance"
    assert caught.value.code == -32602


class _ProxyPage(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = b"<html>502 Bad Gateway</html>" if self.path == "/" else b'{"detail": "nope"}'
        self.send_response(502 if self.path == "/" else 200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_answers_that_are_no_json_rpc_raise_node_error():
    server = HTTPServer(("127.0.0.1", 0), _ProxyPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(NodeError, match="HTTP 502, not JSON"):
            call(url + "/", "eth_chainId")
        with pytest.raises(NodeError, match="no result"):
            call(url + "/json", "eth_chainId")
        with RpcClient(url + "/json") as node, pytest.raises(NodeError, match="expected 2"):
            node.batch([("eth_chainId", []), ("net_version", [])])
    finally:
        server.shutdown()


def test_an_unreachable_node_is_an_http_error():
    port = testnet.free_base_port(span=1)
    with pytest.raises(httpx.HTTPError):
        call(f"http://127.0.0.1:{port}", "eth_chainId", timeout=2)
