"""One client cannot take every slot of a node (issue #23): a client at its maximum of
HTTP connections, of WebSocket sockets or of filters leaves room for the next client,
and a socket kept open for nothing is closed after the idle timeout.

The node is a real miner served by uvicorn on 127.0.0.1, exactly as ``common.net.service``
serves it, in this process so the WebSocket idle timeout can be shortened. Loopback
addresses 127.0.0.2 and 127.0.0.3 are distinct sources on Linux: the greedy client
connects from one of them, the well-behaved one from 127.0.0.1.
"""

import asyncio
import json
import resource
import socket
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from common.chain.accounts import genesis_alloc, wallets
from common.chain.genesis import GenesisSpec
from common.chain.state import ChainConfig
from common.net.service import MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT
from common.rpc import filters, ws
from miner.node import MinerNode, MinerSettings
from tests.nodes import served

GREEDY = "127.0.0.2"
FILTERING = "127.0.0.3"
HALF_SENT = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"
CHAIN_ID = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A miner's URL and port; this process may open the sockets the tests hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    settings = MinerSettings(
        data_dir=tmp_path_factory.mktemp("client-limits"),
        key=b"\x07" * 32,
        genesis=GenesisSpec(ChainConfig(), genesis_alloc(wallets(1))),
        block_interval=3600,
        subcall_helpers=0,
    )
    try:
        with served(MinerNode(settings)) as (url, port, _):
            yield url, port
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _from(source: str, port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))


def _closed_by_node(sock: socket.socket) -> bool:
    """Whether the node closed ``sock`` (answering first or not) within its timeout."""
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass  # closed with our half-sent request unread: a reset
    except TimeoutError:
        return False
    return True


def test_one_client_at_its_http_maximum_leaves_room_for_another(node):
    url, port = node
    held: list[socket.socket] = []
    try:
        # Half-sent requests for every slot of the node and one more, as in the attack.
        for _ in range(MAX_CONNECTIONS + 1):
            held.append(_from(GREEDY, port))
            held[-1].sendall(HALF_SENT)
        reply = httpx.post(url, json=CHAIN_ID, timeout=5)
        assert reply.status_code == 200 and reply.json()["result"] == "0x7a69"
        kept, refused = held[:MAX_CONNECTIONS_PER_CLIENT], held[MAX_CONNECTIONS_PER_CLIENT:]
        assert all(_closed_by_node(sock) for sock in refused)
        for sock in kept:  # the greedy client keeps what it holds
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
        with _from(GREEDY, port) as silent:  # nothing unread: the answer arrives whole
            answer = silent.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert answer.endswith(f"too many connections from {GREEDY}: at most 256".encode())
    finally:
        for sock in held:
            sock.close()


def test_one_client_at_its_websocket_maximum_leaves_room_for_another(node):
    _, port = node

    async def run() -> None:
        url = f"ws://127.0.0.1:{port}"
        greedy = [await connect(url, local_addr=(GREEDY, 0)) for _ in range(ws.MAX_CONNECTIONS)]
        try:
            kept = greedy[: ws.MAX_CONNECTIONS_PER_CLIENT]
            refused = greedy[ws.MAX_CONNECTIONS_PER_CLIENT :]
            for socket_ in refused:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(socket_.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
                assert closed.value.rcvd.reason == f"too many connections from {GREEDY}: at most 16"
            async with connect(url) as other:
                await other.send(json.dumps(CHAIN_ID))
                assert json.loads(await asyncio.wait_for(other.recv(), 5))["result"] == "0x7a69"
            await kept[-1].send(json.dumps(CHAIN_ID))
            assert json.loads(await asyncio.wait_for(kept[-1].recv(), 5))["result"] == "0x7a69"
        finally:
            await asyncio.gather(*(s.close() for s in greedy))

    asyncio.run(run())


def test_an_idle_websocket_is_closed_and_a_subscribed_one_kept(node, monkeypatch):
    _, port = node
    monkeypatch.setattr(ws, "IDLE_TIMEOUT", 1.0)

    async def run() -> None:
        url = f"ws://127.0.0.1:{port}"
        start = time.monotonic()
        async with connect(url) as idle, connect(url) as subscribed:
            subscribe = {"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe"}
            await subscribed.send(json.dumps({**subscribe, "params": ["newHeads"]}))
            assert "result" in json.loads(await asyncio.wait_for(subscribed.recv(), 5))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(idle.recv(), 10)
            assert time.monotonic() - start >= 1.0
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "idle for 1 s")
            await asyncio.sleep(1.5)  # past the timeout again, silent but subscribed
            await subscribed.send(json.dumps(CHAIN_ID))
            assert json.loads(await asyncio.wait_for(subscribed.recv(), 5))["result"] == "0x7a69"

    asyncio.run(run())


def test_one_client_at_its_filter_maximum_leaves_room_for_another(node):
    url, port = node
    new_filter = {"jsonrpc": "2.0", "method": "eth_newBlockFilter", "params": []}
    batch = [{**new_filter, "id": i} for i in range(filters.MAX_FILTERS_PER_CLIENT + 1)]
    refusal = {"code": -32000, "message": f"too many filters from {FILTERING}: at most 100"}
    transport = httpx.HTTPTransport(local_address=FILTERING)
    with httpx.Client(transport=transport, timeout=10) as greedy:
        answers = greedy.post(url, json=batch).json()
    assert all("result" in a for a in answers[:-1]) and answers[-1]["error"] == refusal

    async def over_websocket() -> dict[str, Any]:
        async with connect(f"ws://127.0.0.1:{port}", local_addr=(FILTERING, 0)) as socket_:
            await socket_.send(json.dumps({**new_filter, "id": 1}))
            answer: dict[str, Any] = json.loads(await asyncio.wait_for(socket_.recv(), 5))
            return answer

    assert asyncio.run(over_websocket())["error"] == refusal
    other = httpx.post(url, json={**new_filter, "id": 1}, timeout=5).json()
    assert other["result"].startswith("0x")
