"""The JSON-RPC endpoint (``POST /``) both services mount, with go-ethereum's HTTP limits:
bodies over 5 MiB get 413, a content type other than JSON gets 415, other verbs 405."""

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from common.rpc.dispatch import Dispatcher

MAX_BODY = 5 * 1024 * 1024


def jsonrpc_router(dispatcher: Dispatcher) -> APIRouter:
    """A router serving ``dispatcher`` at ``POST /``."""
    router = APIRouter(tags=["json-rpc"])

    @router.post("/")
    async def jsonrpc(request: Request) -> Response:
        """Ethereum JSON-RPC 2.0, single or batch."""
        content_type = request.headers.get("content-type", "application/json")
        if not content_type.split(";")[0].strip().lower().endswith("json"):
            return Response(status_code=415, content=b"content type must be application/json")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            return Response(status_code=413, content=b"request body too large")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return Response(status_code=413, content=b"request body too large")
        answer = await run_in_threadpool(dispatcher.handle, bytes(body))
        if answer is None:
            return Response(status_code=200)
        return Response(content=answer, media_type="application/json")

    return router
