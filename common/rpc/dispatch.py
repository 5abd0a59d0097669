"""JSON-RPC 2.0 request handling: single and batch requests, limits, error objects.

The dispatcher turns a request body into a response body and never raises: malformed
JSON, invalid requests, unknown methods, bad parameters and handler failures all
become JSON-RPC error objects (limits follow go-ethereum: 1000 requests per batch,
25 MB per batch response). A single answer is held to 25 MB too, unless its method
has a limit of its own: one whose answers are bounded otherwise and must be readable
whole, such as a block's receipts.

Requests run on the dispatcher's own ``RPC_THREADS`` threads (:meth:`Dispatcher.serve`),
not the server's shared pool: calls waiting for a slot there would leave the node's
other routes (health, blocks, verdicts, metrics) no thread.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

from common.encoding.untrusted import load_json
from common.errors import InvalidTransaction
from common.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RESPONSE_TOO_LARGE,
    SERVER_ERROR,
    RpcError,
    invalid_params,
)

Handler = Callable[[list[Any]], Any]
log = logging.getLogger("pavm.rpc")

client_address: ContextVar[str | None] = ContextVar("client_address", default=None)
"""The client (``common.net.clients.client_key``) whose request the running handler serves,
``None`` for a caller in process: handlers keep per-client limits by it (filters), and
their signature stays the spec's parameter list."""

RPC_THREADS = 32
"""Threads running JSON-RPC requests (HTTP and WebSocket) at once; more wait their turn.
Calls hold at most ``MAX_CALLS`` of them running and, waiting for a slot, at most
``MAX_CALLS_PER_CLIENT`` per client (``common/rpc/calls.py``), so one client leaves the
rest to others."""
MAX_BATCH = 1000
MAX_BATCH_RESPONSE = 25_000_000
"""Bytes of one response, batch or single."""
BATCH_TIME = 10.0
"""Seconds one batch may run: each call has its own deadline, but a batch of them
would add up; calls left when it is spent get an error instead of running."""


_TOO_LARGE = RpcError(RESPONSE_TOO_LARGE, "response too large")


def _error(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


class Dispatcher:
    """Routes JSON-RPC calls to handlers taking the positional parameter list."""

    def __init__(
        self,
        methods: dict[str, Handler],
        max_batch: int = MAX_BATCH,
        refused: dict[str, str] | None = None,
        limits: dict[str, int] | None = None,
    ) -> None:
        self.methods = methods
        self.refused = refused or {}
        """Methods deliberately not offered, with why: their -32601 says so."""
        self.limits = limits or {}
        """Bytes one answer of these methods may take, alone, instead of
        ``MAX_BATCH_RESPONSE``; in a batch every answer counts toward its 25 MB."""
        self.max_batch = max_batch
        self.calls: dict[str, int] = {}
        """Calls served per method name (for metrics)."""
        self._traced: set[tuple[str, str]] = set()
        """(method, exception type) whose traceback was logged: later ones get a line,
        so a batch of a thousand failing calls cannot flood the log."""
        self._threads: ThreadPoolExecutor | None = None
        """Where :meth:`serve` runs requests; made on first use (its threads on demand)."""

    async def serve(self, body: bytes, client: str | None = None) -> bytes | None:
        """:meth:`handle` run on one of the dispatcher's ``RPC_THREADS`` threads, for the
        server's event loop: never one of the threads the server's other routes use."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(RPC_THREADS, thread_name_prefix="pavm-rpc")
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, self.handle, body, client
        )

    def start(self) -> None:
        """Nothing to start: the threads come with the first request (``node_lifespan``)."""

    def stop(self) -> None:
        """Lets the threads go once their requests are done; requests still queued are
        dropped (the server is shutting down)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    def handle(self, body: bytes, client: str | None = None) -> bytes | None:
        """Response body for ``body``, or ``None`` when it held only notifications.
        ``client`` is whom the handlers see in :data:`client_address` meanwhile."""
        token = client_address.set(client)
        try:
            return self._handle(body)
        finally:
            client_address.reset(token)

    def _handle(self, body: bytes) -> bytes | None:
        try:
            request = load_json(body)
        except ValueError:
            return self._dump(_error(None, RpcError(PARSE_ERROR, "parse error")))
        if isinstance(request, list):
            return self._batch(request)
        response = self._one(request)
        if response is None:
            return None
        body = self._dump(response)
        if len(body) > self._limit(request):
            return self._dump(_error(response.get("id"), _TOO_LARGE))
        return body

    def _limit(self, request: Any) -> int:
        """Bytes the answer to the single ``request`` may take."""
        method = request.get("method") if isinstance(request, dict) else None
        if isinstance(method, str):
            return self.limits.get(method, MAX_BATCH_RESPONSE)
        return MAX_BATCH_RESPONSE

    def _batch(self, requests: list[Any]) -> bytes | None:
        if not requests:
            return self._dump(_error(None, RpcError(INVALID_REQUEST, "empty batch")))
        if len(requests) > self.max_batch:
            return self._dump(_error(None, RpcError(INVALID_REQUEST, "batch too large")))
        # The response's size is counted as it grows, and the work stops once it is
        # over the limit: a batch of heavy calls never builds a giant answer first.
        encoded: list[bytes] = []
        size = 2
        deadline = time.monotonic() + BATCH_TIME
        for request in requests:
            if isinstance(request, dict) and "id" not in request and time.monotonic() > deadline:
                continue  # a late notification: dropped, it gets no answer anyway
            if time.monotonic() > deadline:
                late = RpcError(SERVER_ERROR, f"batch ran out of time ({BATCH_TIME:g} s)")
                key = request.get("id") if isinstance(request, dict) else None
                encoded.append(self._dump(_error(key, late)))
                continue
            response = self._one(request)
            if response is None:
                continue
            encoded.append(self._dump(response))
            size += len(encoded[-1]) + 1
            if size > MAX_BATCH_RESPONSE:
                return self._dump(
                    [
                        _error(r.get("id") if isinstance(r, dict) else None, _TOO_LARGE)
                        for r in requests
                        if not isinstance(r, dict) or "id" in r
                    ]
                )
        if not encoded:
            return None
        return b"[" + b",".join(encoded) + b"]"

    def _one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error(None, RpcError(INVALID_REQUEST, "invalid request"))
        request_id = request.get("id")
        is_notification = "id" not in request
        if not isinstance(request_id, str | int | float | type(None)) or isinstance(
            request_id, bool
        ):
            return _error(None, RpcError(INVALID_REQUEST, "invalid request id"))
        method = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error(request_id, RpcError(INVALID_REQUEST, "invalid request"))
        params = request.get("params", [])
        try:
            if params is None:
                params = []
            if not isinstance(params, list):
                raise invalid_params("non-array args")
            handler = self.methods.get(method)
            if handler is None:
                raise RpcError(
                    METHOD_NOT_FOUND,
                    self.refused.get(method)
                    or f"the method {method} does not exist/is not available",
                )
            self.calls[method] = self.calls.get(method, 0) + 1
            result = handler(params)
        except RpcError as exc:
            response = _error(request_id, exc)
        except InvalidTransaction as exc:
            response = _error(request_id, RpcError(SERVER_ERROR, str(exc)))
        except Exception as exc:
            seen = (method, type(exc).__name__)
            if seen in self._traced:
                log.error("JSON-RPC method %s failed again: %s: %s", method, seen[1], exc)
            else:
                self._traced.add(seen)
                log.exception("JSON-RPC method %s failed", method)
            response = _error(request_id, RpcError(INTERNAL_ERROR, "internal error"))
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        return None if is_notification else response

    @staticmethod
    def _dump(payload: Any) -> bytes:
        return json.dumps(payload, separators=(",", ":")).encode()
