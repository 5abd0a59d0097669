"""What the miner and validator services share around their node: the command-line
options both take, the app's lifespan (the node's threads run exactly as long as the
HTTP server) and how a node is started under uvicorn.

Each service's ``__main__`` keeps its own options and settings; this module holds only
what is the same for both.
"""

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal, Protocol, TypeVar

import typer
import uvicorn
from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from common.errors import PavmError

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LogLevelOption = Annotated[LogLevel, typer.Option(help="Logging level.")]
RedisUrlOption = Annotated[str | None, typer.Option(help="Redis URL for the redis transport.")]
GasScheduleOption = Annotated[
    Path | None,
    typer.Option(
        help="Gas of pavm's additions (JSON, default common/pavm_gas.json); part of the "
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
MAX_WS_MESSAGE = 1024 * 1024
"""Largest WebSocket message a client may send (JSON-RPC over WebSocket)."""


class _ReadDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline for reading each request.

    uvicorn times out idle keep-alive connections only, so a client that opens a
    connection and never finishes its request (slow loris) would hold it for ever.
    Here each request must arrive whole within ``read_timeout`` seconds of the
    connection (or of its first byte); otherwise the connection is closed.
    """

    read_timeout = 30.0
    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

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
    its app until the process is stopped, with the HTTP limits every port needs."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        node = make_node()
    except (PavmError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    protocol = type("ReadDeadline", (_ReadDeadline,), {"read_timeout": read_timeout})
    uvicorn.run(
        HostCheck(create_app(node), allowed_hosts),
        host=host,
        port=port,
        log_level=log_level,
        http=protocol,
        limit_concurrency=MAX_CONNECTIONS,
        ws_max_size=MAX_WS_MESSAGE,
    )
