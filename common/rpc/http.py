"""The JSON-RPC endpoint (``POST /``) both services mount, with go-ethereum's HTTP limits:
bodies over 5 MiB get 413, a content type other than JSON gets 415, other verbs 405."""

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from common.rpc.dispatch import Dispatcher

MAX_BODY = 5 * 1024 * 1024


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit``
    bytes (from its declared length, or while it streams in): never held whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, "request body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, "request body too large")
    return bytes(body)


def jsonrpc_router(dispatcher: Dispatcher) -> APIRouter:
    """A router serving ``dispatcher`` at ``POST /``."""
    router = APIRouter(tags=["json-rpc"])

    @router.post("/")
    async def jsonrpc(request: Request) -> Response:
        """Ethereum JSON-RPC 2.0, single or batch."""
        content_type = request.headers.get("content-type", "application/json")
        if not content_type.split(";")[0].strip().lower().endswith("json"):
            return Response(status_code=415, content=b"content type must be application/json")
        body = await read_body(request)
        answer = await run_in_threadpool(dispatcher.handle, body)
        if answer is None:
            return Response(status_code=200)
        return Response(content=answer, media_type="application/json")

    return router
