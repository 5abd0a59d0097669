"""What the miner and validator services share around their node: the command-line
options both take, the app's lifespan (the node's threads run exactly as long as the
HTTP server) and how a node is started under uvicorn.

Each service's ``__main__`` keeps its own options and settings; this module holds only
what is the same for both.
"""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Literal, Protocol, TypeVar

import typer
import uvicorn
from fastapi import FastAPI

from common.errors import PavmError

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LogLevelOption = Annotated[LogLevel, typer.Option(help="Logging level.")]
RedisUrlOption = Annotated[str | None, typer.Option(help="Redis URL for the redis transport.")]


class Node(Protocol):
    """A service's node: background work that starts and stops with the app."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


N = TypeVar("N", bound=Node)


def node_lifespan(node: Node) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """FastAPI lifespan that starts ``node`` with the app and stops it on shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        node.start()
        try:
            yield
        finally:
            node.stop()

    return lifespan


def serve(
    make_node: Callable[[], N],
    create_app: Callable[[N], FastAPI],
    host: str,
    port: int,
    log_level: LogLevel,
) -> None:
    """Build the node (bad settings become a usage error naming the problem) and serve
    its app until the process is stopped."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        node = make_node()
    except (PavmError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    uvicorn.run(create_app(node), host=host, port=port, log_level=log_level)
