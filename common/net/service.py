"""What the miner and validator services share around their node: the command-line
options both take, the app's lifespan (the node's threads run exactly as long as the
HTTP server) and how a node is started under uvicorn.

Each service's ``__main__`` keeps its own options and settings; this module holds only
what is the same for both.
"""

import asyncio
import ipaddress
import logging
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Protocol, TypeVar

import typer
import uvicorn
from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from common.errors import PavmError
from common.net.clients import client_key

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LogLevelOption = Annotated[LogLevel, typer.Option(help="Logging level.")]
RedisUrlOption = Annotated[str | None, typer.Option(help="Redis URL for the redis transport.")]
GasScheduleOption = Annotated[
    Path | None,
    typer.Option(
        help="Gas of pavm's additions (JSON, default common/evm/pavm_gas.json); part of the "
        "chain's parameters: every node of a network must be given the same file."
    ),
]
RedisPasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        help="File (mode 0600) holding the Redis password, as the testnet launcher or the "
        "compose redis service makes it; a password never goes on the command line."
    ),
]
ReadTimeoutOption = Annotated[
    float,
    typer.Option(
        min=0.1, help="Seconds a client may take to send one whole request (then cut off)."
    ),
]
AllowedHostsOption = Annotated[
    str,
    typer.Option(
        help="Host names (comma-separated) requests may address besides IP addresses and "
        "localhost; * allows any (DNS rebinding)."
    ),
]
MAX_CONNECTIONS = 1024
"""Connections and requests a node serves at once; more get 503 (never an exhausted
file table)."""
MAX_CONNECTIONS_PER_CLIENT = 256
"""HTTP connections one client (``common.net.clients.client_key``) may hold open at once,
a quarter of ``MAX_CONNECTIONS``: one more is answered 503 and closed at once, so one
client never takes every slot."""
KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle keep-alive connection stays open after its last answer (uvicorn's
default, made explicit): shorter than go-ethereum's 120 s, since every idle connection
holds one of its client's slots."""
WRITE_TIMEOUT = 10.0
"""Seconds a connection's answer may wait for its client to read (the server's buffer
full, asyncio's writing paused) before the connection is aborted and the answer
dropped. As the WebSocket's ``SEND_TIMEOUT`` (``common/rpc/ws.py``), so both ways in
agree; go-ethereum's ``WriteTimeout`` is 30 s, but counts the whole request, execution
included, while this counts only time the client reads too little, and every second
of it holds a whole answer (up to ~36 MB) in memory. A client reading 2.5 MB/s takes
the largest (25 MB) answer within it."""
MAX_UNSENT_PER_CLIENT = 64 * 1024 * 1024
"""Bytes of answers one client's connections may have waiting to be written, together;
the connection that passes it is aborted. Two answers at the 25 MB limit fit."""
SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it (Python's default is
5 ms). Calls executing (up to ``MAX_CALLS`` threads, CPU-bound) otherwise make the
event loop wait ~5 ms for the GIL after every socket operation: with one client
keeping its calls running on 200 connections, the node accepted ~4 connections a
second and a new client's first answer took ~20 s; at 0.5 ms it takes well under 1 s."""
MAX_WS_MESSAGE = 1024 * 1024
"""Largest WebSocket message a client may send (JSON-RPC over WebSocket)."""
_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
)


class _BoundedHttp(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline for reading each request and one for
    writing its answer, a cap on the connections of each client and one on the bytes
    they have waiting to be written.

    uvicorn times out idle keep-alive connections only, so a client that opens a
    connection and never finishes its request (slow loris) would hold it for ever.
    Here each request must arrive whole within ``read_timeout`` seconds of the
    connection (or of its first byte); otherwise the connection is closed. And
    uvicorn's ``limit_concurrency`` counts all clients together, so one client holding
    that many half-sent requests would leave every other client a 503: here a client's
    connection beyond ``MAX_CONNECTIONS_PER_CLIENT`` is refused before it is read.
    ``per_client`` counts the open connections of each client, shared by a server's
    connections (:func:`server_config` gives each server its own).

    uvicorn has no write timeout: an answer its client never reads stays in the
    transport's buffer for as long as the connection lives, which a client that does
    not read keeps open. asyncio pauses the protocol's writing while the buffer is
    full (``pause_writing``) and resumes it once drained; a connection paused for
    ``write_timeout`` seconds is aborted, which frees the buffer. ``unsent`` holds the
    paused connections of each client: when their buffers together pass
    ``MAX_UNSENT_PER_CLIENT``, the connection that paused last is aborted at once.
    """

    read_timeout = 30.0
    write_timeout = WRITE_TIMEOUT
    per_client: ClassVar[Counter[str]] = Counter()
    unsent: ClassVar[dict[str, set["_BoundedHttp"]]] = {}
    _read_timer: asyncio.TimerHandle | None = None
    _write_timer: asyncio.TimerHandle | None = None
    _counted: str | None = None
    """The client this connection is counted for, until it closes or upgrades."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        client = client_key(self.client[0] if self.client else None)
        if client is not None and self.per_client[client] >= MAX_CONNECTIONS_PER_CLIENT:
            reason = f"too many connections from {client}: at most {MAX_CONNECTIONS_PER_CLIENT}"
            transport.write(_TOO_MANY % (len(reason), reason.encode()))
            transport.close()
            return
        if client is not None:
            self.per_client[client] += 1
            self._counted = client
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def handle_websocket_upgrade(self) -> None:
        """The socket is the WebSocket layer's from here: its own per-client cap and idle
        timeout apply (``common.rpc.ws``), and this protocol hears no more of it."""
        self._disarm()
        self._writing()
        self._uncount()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._writing()
        self._uncount()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.write_timeout, self._not_read)
        if self._counted is None:
            return
        paused = self.unsent.setdefault(self._counted, set())
        paused.add(self)
        if sum(p.transport.get_write_buffer_size() for p in paused) > MAX_UNSENT_PER_CLIENT:
            self._writing()
            self.transport.abort()

    def resume_writing(self) -> None:
        self._writing()
        super().resume_writing()

    def _writing(self) -> None:
        """The connection writes again (or is gone): no deadline, nothing held unsent."""
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        if self._counted is not None and self in self.unsent.get(self._counted, ()):
            self.unsent[self._counted].discard(self)
            if not self.unsent[self._counted]:
                del self.unsent[self._counted]

    def _not_read(self) -> None:
        self._write_timer = None
        self._writing()
        self.transport.abort()

    def _uncount(self) -> None:
        if self._counted is not None:
            self.per_client[self._counted] -= 1
            if not self.per_client[self._counted]:
                del self.per_client[self._counted]
            self._counted = None

    def _arm(self) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class HostCheck:
    """Refuses (403) a request whose ``Host`` names neither an IP address, ``localhost``
    nor an allowed name: a web page on a rebinding domain could otherwise reach a node
    from a browser on the same machine (go-ethereum's ``--http.vhosts``)."""

    def __init__(self, app: ASGIApp, allowed: str = "") -> None:
        self.app = app
        self.allowed = {h.strip().lower() for h in allowed.split(",") if h.strip()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            refusal = PlainTextResponse("host not allowed", status_code=403)
            await refusal(scope, receive, send)
            return
        if scope["type"] == "websocket" and not self._allowed(scope):
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        if "*" in self.allowed:
            return True
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
        name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name == "localhost" or name in self.allowed


class Node(Protocol):
    """A service's node: background work that starts and stops with the app."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


N = TypeVar("N", bound=Node)


def node_lifespan(*nodes: Node) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """FastAPI lifespan that starts ``nodes`` in order with the app and stops them in
    the reverse order on shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started: list[Node] = []
        try:
            for node in nodes:
                node.start()
                started.append(node)
            yield
        finally:
            for node in reversed(started):
                node.stop()

    return lifespan


def server_config(
    app: ASGIApp,
    host: str,
    port: int,
    log_level: LogLevel,
    read_timeout: float = 30.0,
    allowed_hosts: str = "",
) -> uvicorn.Config:
    """uvicorn's configuration for serving ``app`` with the HTTP limits every port needs
    (invariant 9, docs/architecture.md); one place, so tests serve as the nodes do.

    ``X-Forwarded-For`` is not believed, not even from loopback (uvicorn's default): no
    proxy stands before a node, and a client naming itself anew in every request would
    escape its per-client caps."""
    protocol = type(
        "BoundedHttp",
        (_BoundedHttp,),
        {"read_timeout": read_timeout, "per_client": Counter(), "unsent": {}},
    )
    return uvicorn.Config(
        HostCheck(app, allowed_hosts),
        host=host,
        port=port,
        log_level=log_level,
        http=protocol,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        ws_max_size=MAX_WS_MESSAGE,
        proxy_headers=False,
    )


def serve(
    make_node: Callable[[], N],
    create_app: Callable[[N], FastAPI],
    host: str,
    port: int,
    log_level: LogLevel,
    read_timeout: float = 30.0,
    allowed_hosts: str = "",
) -> None:
    """Build the node (bad settings become a usage error naming the problem) and serve
    its app until the process is stopped, with the HTTP limits every port needs and
    the GIL passed on every ``SWITCH_INTERVAL`` seconds."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        node = make_node()
    except (PavmError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    config = server_config(create_app(node), host, port, log_level, read_timeout, allowed_hosts)
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = uvicorn.Server(config)
    server.run()
    if not server.started:  # the port was taken, say
        raise SystemExit(3)  # uvicorn.run's status for a server that never started
