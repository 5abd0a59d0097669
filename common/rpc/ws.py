"""JSON-RPC over WebSocket at ``/`` (the HTTP port, as anvil and hardhat serve it),
with ``eth_subscribe``/``eth_unsubscribe``: ``newHeads``, ``logs`` and
``newPendingTransactions``, which ethers' and web3.py's WebSocket providers use.

Every other method goes through the same dispatcher as HTTP. One task per app
watches the store's head and fans new blocks out to the subscriptions; pending
transactions arrive from the RPC layer as the pool accepts them. Strangers are
bounded (invariant 9, docs/architecture.md): ``MAX_CONNECTIONS`` sockets, at most
``MAX_CONNECTIONS_PER_CLIENT`` of them from one client, so one client cannot take
them all; ``MAX_SUBSCRIPTIONS`` per socket and ``MAX_LOG_SUBSCRIPTIONS`` in all, at
most ``MAX_LOG_SUBSCRIPTIONS_PER_CLIENT`` of them one client's; messages of at most
``common.net.service.MAX_WS_MESSAGE`` bytes (the server's limit). A socket beyond a cap is
closed with 1008 and the reason; one that holds no subscription and sends nothing for
``IDLE_TIMEOUT`` seconds is closed with 1001; and a socket with more than
``MAX_PENDING_BYTES`` waiting (beyond one answer), or whose client stops reading
for ``SEND_TIMEOUT`` seconds, is dropped rather than buffered for.
A handshake from a web page of another origin is refused (a browser lets any page
open a WebSocket to 127.0.0.1).
"""

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from common.encoding.untrusted import load_json
from common.net.clients import client_key
from common.rpc.dispatch import Dispatcher
from common.rpc.errors import INVALID_REQUEST, SERVER_ERROR, RpcError, invalid_params
from common.rpc.logs import LogCriteria, block_logs, log_criteria
from common.rpc.namespace import handler
from common.rpc.params import Raw
from common.rpc.views import block_json
from common.store.chain import ChainStore

MAX_CONNECTIONS = 100
"""Sockets open at once, over all clients."""
MAX_CONNECTIONS_PER_CLIENT = 16
"""Sockets one client (``common.net.clients.client_key``) may hold open at once."""
IDLE_TIMEOUT = 120.0
"""Seconds a socket without subscriptions may stay silent before it is closed: a socket
kept open for nothing holds one of the node's slots."""
MAX_SUBSCRIPTIONS = 32
"""Subscriptions one socket may hold."""
MAX_LOG_SUBSCRIPTIONS = 256
"""``logs`` subscriptions of all sockets together: each is matched against every log
of every block."""
MAX_LOG_SUBSCRIPTIONS_PER_CLIENT = 64
"""``logs`` subscriptions of one client's sockets together (its sockets could hold
twice ``MAX_LOG_SUBSCRIPTIONS`` otherwise)."""
MAX_PENDING_BYTES = 16 * 1024 * 1024
"""Bytes of answers and notifications one socket may have waiting to be sent."""
SEND_TIMEOUT = 10.0
"""Seconds one message may take to go out before its socket is dropped."""
HEAD_POLL = 0.1
"""Seconds between looks at the store's head."""
POLICY_VIOLATION = 1008
GOING_AWAY = 1001
"""Close codes (RFC 6455): a cap or a stalled client; the idle timeout."""
LOCAL_ORIGINS = frozenset({"localhost", "127.0.0.1", "::1"})
_HEADER_DROPS = ("transactions", "uncles", "size", "withdrawals")
log = logging.getLogger("pavm.ws")


@dataclass
class _Subscription:
    kind: str
    criteria: LogCriteria | None


class _Connection:
    """One socket: its client, its subscriptions and what waits to be sent (event loop
    only)."""

    def __init__(self, client: str | None = None) -> None:
        self.client = client
        """Whose socket it is (``common.net.clients.client_key``), for per-client caps."""
        self.subscriptions: dict[str, _Subscription] = {}
        self.outbox: deque[str] = deque()
        self.pending = 0
        """Bytes in the outbox."""
        self.ready = asyncio.Event()
        self.dropped = asyncio.Event()
        """Set when the socket must go: too much waiting, a send that stalled, or idle."""
        self.close_reason = (POLICY_VIOLATION, "")
        """The close code and reason the client gets once the socket is dropped."""

    def drop(self, code: int, reason: str) -> None:
        """Make the socket go, closed with ``code`` and ``reason``."""
        if not self.dropped.is_set():
            self.close_reason = (code, reason)
            self.dropped.set()

    def push(self, message: str) -> None:
        """Queue ``message``, dropping the socket once too much waits. A message that
        finds nothing waiting is taken whatever its size: the dispatcher bounds each
        answer, and one it lets past ``MAX_PENDING_BYTES`` (a block's receipts) must
        still be readable (invariant 9, docs/architecture.md)."""
        if self.dropped.is_set():
            return
        self.pending += len(message)
        if self.outbox and self.pending > MAX_PENDING_BYTES:
            self.outbox.clear()
            self.drop(POLICY_VIOLATION, "subscriber too slow")
            return
        self.outbox.append(message)
        self.ready.set()


def _notification(key: str, result: Any) -> str:
    return _dump(
        {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": key, "result": result},
        }
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
                    connection.push(_notification(key, tx_hash))

    async def _watch(self) -> None:
        """Fan new blocks out; the matching and encoding run off the event loop, so a
        block of many logs never holds up the node's other requests."""
        seen = await run_in_threadpool(self.store.head_number)
        while self.connections:
            await asyncio.sleep(HEAD_POLL)
            head = await run_in_threadpool(self.store.head_number)
            for number in range(seen + 1, head + 1):
                watching = [
                    (connection, key, sub)
                    for connection in self.connections
                    for key, sub in connection.subscriptions.items()
                    if sub.kind in ("newHeads", "logs")
                ]
                if watching:
                    messages = await run_in_threadpool(self._block, number, watching)
                    for connection, message in messages:
                        connection.push(message)
            seen = max(seen, head)
        self._watcher = None

    def _block(
        self, number: int, watching: list[tuple[_Connection, str, _Subscription]]
    ) -> list[tuple[_Connection, str]]:
        """Every notification block ``number`` makes, at most ``MAX_PENDING_BYTES`` per
        socket (the socket is dropped when it gets there anyway)."""
        block = self.store.block(number)
        if block is None:
            return []
        receipts = self.store.receipts(number) or []
        header = block_json(block, False, self.chain_id)
        for name in _HEADER_DROPS:
            header.pop(name, None)
        matched: dict[LogCriteria, list[dict[str, Any]]] = {}
        sizes: dict[_Connection, int] = {}
        out: list[tuple[_Connection, str]] = []
        for connection, key, sub in watching:
            if sub.kind == "newHeads":
                results: list[Any] = [header]
            else:
                assert sub.criteria is not None
                if sub.criteria not in matched:
                    matched[sub.criteria] = list(block_logs(block, receipts, sub.criteria))
                results = matched[sub.criteria]
            for result in results:
                message = _notification(key, result)
                sizes[connection] = sizes.get(connection, 0) + len(message)
                out.append((connection, message))
                if sizes[connection] > MAX_PENDING_BYTES:
                    break
        return out

    # -- methods -----------------------------------------------------------------------

    def subscribe(self, connection: _Connection, kind: Raw, option: Raw = None) -> str:
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
        if (
            kind == "logs"
            and connection.client is not None
            and self._log_subscriptions(connection.client) >= MAX_LOG_SUBSCRIPTIONS_PER_CLIENT
        ):
            raise RpcError(
                SERVER_ERROR,
                f"too many logs subscriptions from {connection.client}: "
                f"at most {MAX_LOG_SUBSCRIPTIONS_PER_CLIENT}",
            )
        if kind == "logs" and self._log_subscriptions() >= MAX_LOG_SUBSCRIPTIONS:
            raise RpcError(
                SERVER_ERROR, f"too many logs subscriptions on this node: {MAX_LOG_SUBSCRIPTIONS}"
            )
        key = hex(secrets.randbits(128) | 1 << 127)
        connection.subscriptions[key] = _Subscription(kind, criteria)
        return key

    @staticmethod
    def unsubscribe(connection: _Connection, key: Raw) -> bool:
        if not isinstance(key, str):
            raise invalid_params("invalid argument 0: subscription id expected")
        return connection.subscriptions.pop(key, None) is not None

    def _log_subscriptions(self, client: str | None = None) -> int:
        """``logs`` subscriptions of every socket, or of ``client``'s sockets."""
        return sum(
            1
            for c in self.connections
            if client is None or c.client == client
            for s in c.subscriptions.values()
            if s.kind == "logs"
        )

    def refusal(self, client: str | None) -> str | None:
        """Why a new socket of ``client`` cannot be taken now, or ``None`` if it can."""
        if client is not None:
            held = sum(1 for c in self.connections if c.client == client)
            if held >= MAX_CONNECTIONS_PER_CLIENT:
                return f"too many connections from {client}: at most {MAX_CONNECTIONS_PER_CLIENT}"
        if len(self.connections) >= MAX_CONNECTIONS:
            return f"too many connections: at most {MAX_CONNECTIONS}"
        return None

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
        if _foreign_origin(websocket):
            await websocket.close(code=POLICY_VIOLATION)
            return
        client = client_key(websocket.client.host if websocket.client else None)
        refusal = subscriptions.refusal(client)
        if refusal is not None:
            # Accepted to be closed with the reason: a refused handshake says only 403.
            await websocket.accept()
            await websocket.close(code=POLICY_VIOLATION, reason=refusal)
            return
        connection = _Connection(client)
        subscriptions._open(connection)  # counted before the next await: no overshoot
        tasks: list[asyncio.Task[Any]] = []
        try:
            await websocket.accept()
            tasks = [
                asyncio.create_task(_receive(websocket, dispatcher, subscriptions, connection)),
                asyncio.create_task(_send(websocket, connection)),
                asyncio.create_task(connection.dropped.wait()),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            subscriptions.connections.discard(connection)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if connection.dropped.is_set():
                code, reason = connection.close_reason
                log.info("closed the WebSocket of %s: %s", client, reason)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(websocket.close(code=code, reason=reason), 2.0)

    return router


async def _receive(
    websocket: WebSocket,
    dispatcher: Dispatcher,
    subscriptions: Subscriptions,
    connection: _Connection,
) -> None:
    """Answer each message in turn until the client goes, or until it has stayed silent
    for ``IDLE_TIMEOUT`` seconds with no subscription to keep the socket for."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), IDLE_TIMEOUT)
            except TimeoutError:
                if connection.subscriptions:
                    continue
                connection.drop(GOING_AWAY, f"idle for {IDLE_TIMEOUT:g} s")
                return
            if message["type"] == "websocket.disconnect":
                return
            # Text or binary frames alike (web3.py sends binary).
            data = message.get("bytes") or (message.get("text") or "").encode()
            answer = await _answer(dispatcher, subscriptions, connection, data)
            if answer is not None:
                connection.push(answer)


async def _send(websocket: WebSocket, connection: _Connection) -> None:
    """Send what waits; a message that cannot go out within ``SEND_TIMEOUT`` (a client
    that stopped reading) drops the socket."""
    try:
        while True:
            await connection.ready.wait()
            connection.ready.clear()
            while connection.outbox:
                message = connection.outbox.popleft()
                connection.pending -= len(message)
                await asyncio.wait_for(websocket.send_text(message), SEND_TIMEOUT)
    except (TimeoutError, WebSocketDisconnect, RuntimeError):
        connection.drop(POLICY_VIOLATION, "subscriber too slow")


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
        request_id = request.get("id")
        if request.get("jsonrpc") != "2.0" or not isinstance(request_id, str | int | None):
            error = RpcError(INVALID_REQUEST, "invalid request")
            return _dump({"jsonrpc": "2.0", "id": None, "error": error.to_json()})
        if "id" not in request:
            return None  # a notification: no answer
        try:
            if not isinstance(params, list):
                raise invalid_params("non-array args")
            method = (
                subscriptions.subscribe
                if request["method"] == "eth_subscribe"
                else subscriptions.unsubscribe
            )
            result = handler(partial(method, connection))(params)
        except RpcError as exc:
            return _dump({"jsonrpc": "2.0", "id": request.get("id"), "error": exc.to_json()})
        return _dump({"jsonrpc": "2.0", "id": request.get("id"), "result": result})
    body = await dispatcher.serve(data, connection.client)
    return None if body is None else body.decode()


def _dump(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))
