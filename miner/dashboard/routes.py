"""The dashboard's HTTP routes on the miner: the page, its assets, its JSON and a
server-sent event stream that pushes the overview as the chain moves.

Plotly draws the charts: its Python package ships the complete ``plotly.min.js``
(the same file its CDN serves), so the page works offline and the asset is pinned with
the project's other dependencies; Plotly's time series, heatmaps and horizontal bars
(the Gantt chart) cover every chart here with one library.
"""

import asyncio
import json
import threading
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

import plotly
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from common.net.clients import client_key
from common.rpc.errors import RpcError
from common.rpc.hexcodec import parse_hash
from common.rpc.http import block_number
from miner.dashboard.overview import Dashboard

STATIC = files("miner.dashboard") / "static"
PLOTLY_JS = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
MAX_STREAMS = 16
"""Event streams open at once; one more is refused with 503."""
MAX_STREAMS_PER_CLIENT = 4
"""Event streams one client (its address) may hold, so one client cannot take every
stream and leave the others a dead page (invariant 9, docs/architecture.md)."""
PUSH_EVERY = 1.0
"""Seconds between two overviews pushed (the pool is sampled each second)."""


def dashboard_router(dashboard: Dashboard) -> APIRouter:
    """``/dashboard`` and what it loads."""
    router = APIRouter()
    streams = _Slots(MAX_STREAMS, MAX_STREAMS_PER_CLIENT)

    @router.get("/dashboard", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        """The live dashboard."""
        return HTMLResponse((STATIC / "index.html").read_text())

    @router.get("/dashboard/assets/{name}")
    def asset(name: str) -> Response:
        """The page's script and style, and Plotly from its Python package."""
        if name == "plotly.min.js":
            return FileResponse(PLOTLY_JS, media_type="text/javascript")
        if name not in ASSETS:
            raise HTTPException(404, f"no asset {name}")
        return Response((STATIC / name).read_bytes(), media_type=ASSETS[name])

    @router.get("/dashboard/api/overview")
    def overview() -> dict[str, Any]:
        """What the page shows before anything is clicked (also pushed as events)."""
        return dashboard.overview()

    @router.get("/dashboard/api/block/{number}")
    def block(number: int) -> dict[str, Any]:
        """One block, its groups and R/W sets, verdicts and validators' reports."""
        found = dashboard.block(block_number(number, "number"))
        if found is None:
            raise HTTPException(404, f"no block {number}")
        return found

    @router.get("/dashboard/api/tx/{tx_hash}")
    def transaction(tx_hash: str) -> dict[str, Any]:
        """One mined transaction, found by its hash."""
        try:
            parse_hash(tx_hash, "hash")
            found = dashboard.transaction(tx_hash)
        except RpcError as exc:
            raise HTTPException(400, exc.message) from exc
        if found is None:
            raise HTTPException(404, f"no mined transaction {tx_hash}")
        return found

    @router.get("/dashboard/events")
    async def events(request: Request) -> StreamingResponse:
        """Server-sent events: an ``overview`` every second."""
        client = client_key(request.client.host if request.client else None)
        refusal = streams.take(client)
        if refusal:
            raise HTTPException(503, refusal)

        async def stream() -> Any:
            try:
                yield "retry: 2000\n\n"
                while not await request.is_disconnected():
                    data = json.dumps(await run_in_threadpool(dashboard.overview))
                    yield f"event: overview\ndata: {data}\n\n"
                    await asyncio.sleep(PUSH_EVERY)
            finally:
                streams.give(client)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return router


class _Slots:
    """Open streams, counted in all and per client (the event loop's threads share it)."""

    def __init__(self, size: int, per_client: int) -> None:
        self.free = size
        self.per_client = per_client
        self._held: Counter[str | None] = Counter()
        self._lock = threading.Lock()

    def take(self, client: str | None) -> str:
        """Take a stream for ``client``; the reason it is refused, ``""`` when taken."""
        with self._lock:
            if self.free == 0:
                return f"{MAX_STREAMS} dashboard streams are open already"
            if client is not None and self._held[client] >= self.per_client:
                return f"too many dashboard streams from {client}: at most {self.per_client}"
            self.free -= 1
            self._held[client] += 1
            return ""

    def give(self, client: str | None) -> None:
        with self._lock:
            self.free += 1
            self._held[client] -= 1
            if self._held[client] <= 0:
                del self._held[client]
