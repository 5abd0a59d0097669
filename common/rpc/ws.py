"""JSON-RPC over WebSocket at ``/`` (the HTTP port, as anvil and hardhat serve it),
with ``eth_subscribe``/``eth_unsubscribe``: ``newHeads``, ``logs`` and
``newPendingTransactions``, which ethers' and web3.py's WebSocket providers use.

Every other method goes through the same dispatcher as HTTP. One task per app
watches the store's head and fans new blocks out to the subscriptions; pending
transactions arrive from the RPC layer as the pool accepts them. Strangers are
bounded: ``MAX_CONNECTIONS`` sockets, ``MAX_SUBSCRIPTIONS`` per socket, messages of
at most ``common.service.MAX_WS_MESSAGE`` bytes (the server's limit), and a subscriber whose
``QUEUE`` outgoing messages are not read is disconnected rather than buffered for.
A handshake from a web page of another origin is refused (a browser lets any page
open a WebSocket to 127.0.0.1).
"""

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from common.block import Block
from common.rpc.dispatch import Dispatcher, expect_params
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.logs import LogCriteria, block_logs, log_criteria
from common.rpc.views import block_json
from common.store import ChainStore
from common.untrusted import load_json

MAX_CONNECTIONS = 200
MAX_SUBSCRIPTIONS = 100
QUEUE = 1024
"""Outgoing messages one connection may have waiting before it is dropped as too slow."""
HEAD_POLL = 0.1
"""Seconds between looks at the store's head."""
LOCAL_ORIGINS = frozenset({"localhost", "127.0.0.1", "::1"})
_HEADER_DROPS = ("transactions", "uncles", "size", "withdrawals")
log = logging.getLogger("pavm.ws")


@dataclass
class _Subscription:
    kind: str
    criteria: LogCriteria | None


class _Connection:
    """One socket: its subscriptions and the queue its sender task drains."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, _Subscription] = {}
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(QUEUE)
        self.overflowed = False

    def push(self, message: str) -> None:
        if self.overflowed:
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.get_nowait()
                self.outbox.put_nowait(None)  # tells the sender to close

    def notify(self, key: str, result: Any) -> None:
        self.push(
            _dump(
                {
                    "jsonrpc": "2.0",
                    "method": "eth_subscription",
                    "params": {"subscription": key, "result": result},
                }
            )
        )


class Subscriptions:
    """The subscriptions of every WebSocket of one node."""

    def __init__(self, store: ChainStore, chain_id: int, pending: bool) -> None:
        self.store = store
        self.chain_id = chain_id
        self.offers_pending = pending
        self.connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None

    # -- events ------------------------------------------------------------------------

    def transaction_added(self, tx_hash: bytes) -> None:
        """Called from any thread when the pool accepted ``tx_hash``."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._pending, "0x" + tx_hash.hex())

    def _pending(self, tx_hash: str) -> None:
        for connection in list(self.connections):
            for key, sub in list(connection.subscriptions.items()):
                if sub.kind == "newPendingTransactions":
                    connection.notify(key, tx_hash)

    async def _watch(self) -> None:
        seen = await run_in_threadpool(self.store.head_number)
        while self.connections:
            await asyncio.sleep(HEAD_POLL)
            head = await run_in_threadpool(self.store.head_number)
            for number in range(seen + 1, head + 1):
                block = await run_in_threadpool(self.store.block, number)
                receipts = await run_in_threadpool(self.store.receipts, number)
                if block is not None:
                    self._block(block, receipts or [])
            seen = max(seen, head)
        self._watcher = None

    def _block(self, block: Block, receipts: list[Any]) -> None:
        header = block_json(block, False, self.chain_id)
        for name in _HEADER_DROPS:
            header.pop(name, None)
        for connection in list(self.connections):
            for key, sub in list(connection.subscriptions.items()):
                if sub.kind == "newHeads":
                    connection.notify(key, header)
                elif sub.kind == "logs" and sub.criteria is not None:
                    for entry in block_logs(block, receipts, sub.criteria):
                        connection.notify(key, entry)

    # -- methods -----------------------------------------------------------------------

    def subscribe(self, connection: _Connection, params: list[Any]) -> str:
        kind, option = expect_params(params, 1, 1)
        kinds = ["newHeads", "logs"] + (["newPendingTransactions"] if self.offers_pending else [])
        if kind not in kinds:
            raise invalid_params(f"invalid argument 0: subscription kind one of {kinds}")
        criteria = None
        if kind == "logs":
            criteria = log_criteria(option or {})
            if criteria.block_hash is not None or criteria.from_block != "latest":
                raise invalid_params("a logs subscription takes only address and topics")
        elif option not in (None, False):
            raise invalid_params(f"invalid argument 1: {kind} takes no options")
        if len(connection.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise RpcError(SERVER_ERROR, f"too many subscriptions: at most {MAX_SUBSCRIPTIONS}")
        key = hex(secrets.randbits(128) | 1 << 127)
        connection.subscriptions[key] = _Subscription(kind, criteria)
        return key

    @staticmethod
    def unsubscribe(connection: _Connection, params: list[Any]) -> bool:
        (key,) = expect_params(params, 1)
        if not isinstance(key, str):
            raise invalid_params("invalid argument 0: subscription id expected")
        return connection.subscriptions.pop(key, None) is not None

    def _open(self, connection: _Connection) -> None:
        self._loop = asyncio.get_running_loop()
        self.connections.add(connection)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())


def _foreign_origin(socket: WebSocket) -> bool:
    """Whether a browser page of another site opened this socket."""
    origin = socket.headers.get("origin")
    if origin is None:
        return False  # not a browser: web3.py, ethers in node, wscat
    name = (urlsplit(origin).hostname or "").lower()
    host = socket.headers.get("host", "").lower()
    own = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    return name not in LOCAL_ORIGINS and name != own


def websocket_router(dispatcher: Dispatcher, subscriptions: Subscriptions) -> APIRouter:
    """A router serving JSON-RPC and subscriptions over WebSocket at ``/``."""
    router = APIRouter()

    @router.websocket("/")
    async def socket(websocket: WebSocket) -> None:
        if _foreign_origin(websocket) or len(subscriptions.connections) >= MAX_CONNECTIONS:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        connection = _Connection()
        subscriptions._open(connection)
        sender = asyncio.create_task(_send(websocket, connection))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                # Text or binary frames alike (web3.py sends binary).
                data = message.get("bytes") or (message.get("text") or "").encode()
                answer = await _answer(dispatcher, subscriptions, connection, data)
                if answer is not None:
                    connection.push(answer)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            subscriptions.connections.discard(connection)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    return router


async def _send(websocket: WebSocket, connection: _Connection) -> None:
    while True:
        message = await connection.outbox.get()
        if message is None:
            await websocket.close(code=1008, reason="subscriber too slow")
            return
        await websocket.send_text(message)


async def _answer(
    dispatcher: Dispatcher, subscriptions: Subscriptions, connection: _Connection, data: bytes
) -> str | None:
    """The reply to one message: subscription methods here, the rest via ``dispatcher``."""
    try:
        request = load_json(data)
    except ValueError:
        request = None
    if isinstance(request, dict) and request.get("method") in ("eth_subscribe", "eth_unsubscribe"):
        params = request.get("params", [])
        try:
            if not isinstance(params, list):
                raise invalid_params("non-array args")
            if request["method"] == "eth_subscribe":
                result: Any = subscriptions.subscribe(connection, params)
            else:
                result = subscriptions.unsubscribe(connection, params)
        except RpcError as exc:
            return _dump({"jsonrpc": "2.0", "id": request.get("id"), "error": exc.to_json()})
        return _dump({"jsonrpc": "2.0", "id": request.get("id"), "result": result})
    body = await run_in_threadpool(dispatcher.handle, data)
    return None if body is None else body.decode()


def _dump(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))
