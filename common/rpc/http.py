"""The JSON-RPC endpoint (``POST /``) both services mount, with go-ethereum's HTTP limits:
bodies over 5 MiB get 413, a content type other than JSON gets 415, other verbs 405.
Handlers learn the calling client from ``dispatch.client_address``; they run on the
dispatcher's own threads (``Dispatcher.serve``)."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.requests import ClientDisconnect

from common.encoding.untrusted import load_json
from common.net.clients import client_key
from common.rpc.dispatch import Dispatcher

MAX_BODY = 5 * 1024 * 1024
MAX_BLOCK_NUMBER = 2**63 - 1
"""The largest block number a node keeps (the store's keys, a verdict's field)."""


def is_json(request: Request) -> bool:
    """Whether the request declares a JSON body (absent counts as JSON). Browsers send
    other types (text/plain, forms) cross-site without asking first; JSON they do not."""
    content_type = request.headers.get("content-type", "application/json")
    return content_type.split(";")[0].strip().lower().endswith("json")


async def read_json(request: Request, limit: int) -> Any:
    """The parsed body of a request that must declare JSON (415 otherwise), read with
    :func:`read_body`'s limit; ``ValueError`` for a body that is no strict JSON."""
    if not is_json(request):
        raise HTTPException(415, "content type must be application/json")
    return load_json(await read_body(request, limit))


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit``
    bytes (from its declared length, or while it streams in): never held whole. A
    client gone before its body was whole (or cut off by the read timeout) ends the
    request with 400, not with a traceback in the log for each such connection."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, "request body too large")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPException(413, "request body too large")
    except ClientDisconnect:
        raise HTTPException(400, "request body cut short") from None
    return bytes(body)


def block_number(value: int, name: str) -> int:
    """``value``, a block number taken from a URL, when it is one a node can keep; else
    400 saying so. A stranger's 2^64 must get a reason, not reach the store and come
    back as a 500 (invariant 9, docs/architecture.md)."""
    if not 0 <= value <= MAX_BLOCK_NUMBER:
        raise HTTPException(400, f"{name} must be a block number in [0, 2^63)")
    return value


def jsonrpc_router(dispatcher: Dispatcher) -> APIRouter:
    """A router serving ``dispatcher`` at ``POST /``."""
    router = APIRouter(tags=["json-rpc"])

    @router.post("/")
    async def jsonrpc(request: Request) -> Response:
        """Ethereum JSON-RPC 2.0, single or batch."""
        if not is_json(request):
            return Response(status_code=415, content=b"content type must be application/json")
        body = await read_body(request)
        client = client_key(request.client.host if request.client else None)
        answer = await dispatcher.serve(body, client)
        if answer is None:
            return Response(status_code=200)
        return Response(content=answer, media_type="application/json")

    return router
