"""The miner's HTTP service: JSON-RPC, blocks for catch-up, verdicts, health, metrics."""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from common.encoding import codec
from common.errors import StoreCorrupted
from common.net.membership import AlreadyRecorded, NotAMember, Registration
from common.net.metrics import metrics_router, node_families
from common.net.service import node_lifespan
from common.net.transport import Verdict
from common.rpc.dispatch import Dispatcher, Handler
from common.rpc.eth import EthApi
from common.rpc.hexcodec import to_data
from common.rpc.http import block_number, jsonrpc_router, read_json
from common.rpc.namespace import Namespace
from common.rpc.node import node_methods
from common.rpc.pavm import PavmNodeApi
from common.rpc.txpool import TxpoolApi
from common.rpc.ws import websocket_router
from miner.dashboard.overview import Dashboard
from miner.dashboard.routes import dashboard_router
from miner.dev import REFUSED, DevApi
from miner.node import MinerNode

MAX_RANGE = 256
"""Blocks one ``GET /blocks?start=&end=`` returns at most."""
MAX_MESSAGE = 64 * 1024
"""Largest verdict or registration body (a verdict is a few hundred bytes)."""


class _MinerCollector:
    """Reads the node's counters when Prometheus scrapes."""

    def __init__(self, node: MinerNode) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        yield from node_families(
            ("Blocks mined", node.blocks_mined),
            ("Transactions mined", node.txs_mined),
            node.state.head.number,
            ("Validators pushed to over HTTP", len(node.peers)),
        )
        yield CounterMetricFamily(
            "pavm_subcalls_lent",
            "Sub-calls that helper processes speculated while blocks were built",
            value=node.subcalls_lent,
        )
        yield GaugeMetricFamily("pavm_pool_size", "Transactions waiting", value=len(node.txpool))
        yield CounterMetricFamily(
            "pavm_pushes_dropped",
            "Block pushes dropped because a peer fell behind (it catches up)",
            value=node.fanout.dropped,
        )


def rpc_methods(node: MinerNode) -> tuple[EthApi, dict[str, Handler]]:
    """The miner's JSON-RPC methods (what README's method list is generated from)."""
    eth = EthApi(node.store, node.lock, pool=_SubmittingPool(node))
    records = PavmNodeApi(
        lambda: _info(node),
        node.times,
        verdicts=lambda block: node.store.verdicts(eth.resolve_number(block)),
    )
    own: list[Namespace] = [TxpoolApi(node.txpool.content, node.state.config.chain_id)]
    if node.settings.dev:
        own.append(DevApi(node, eth))
    return eth, node_methods(eth, records, *own)


def create_app(node: MinerNode) -> FastAPI:
    """Assemble the miner's routes around ``node`` (started and stopped with the app)."""

    eth, methods = rpc_methods(node)
    dashboard = Dashboard(node, methods)
    dispatcher = Dispatcher(methods, refused=REFUSED, limits=eth.response_limits())
    app = FastAPI(title="pavm-net miner", lifespan=node_lifespan(node, dashboard, dispatcher))
    app.include_router(dashboard_router(dashboard))
    app.include_router(jsonrpc_router(dispatcher))
    app.include_router(websocket_router(dispatcher, eth.subscriptions))
    app.include_router(metrics_router(_MinerCollector(node), lambda: dispatcher.calls))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Ready when the store is open and the block loop runs. On the event loop, no
        thread: it reads fields in memory, so it answers however busy the threads are."""
        return {"status": "ok", "role": "miner", "head": node.state.head.number}

    @app.get("/blocks/{number}")
    def block(number: int) -> Response:
        """One block in its wire encoding."""
        try:
            data = node.store.block_bytes(block_number(number, "number"))
        except StoreCorrupted as exc:
            raise HTTPException(500, str(exc)) from exc
        if data is None:
            raise HTTPException(404, f"no block {number}")
        return Response(data, media_type="application/octet-stream")

    @app.get("/blocks")
    def blocks(start: int, end: int) -> Response:
        """Blocks start..end (inclusive, at most 256) as an RLP list of wire encodings."""
        block_number(start, "start")
        block_number(end, "end")
        if end < start or end - start + 1 > MAX_RANGE:
            raise HTTPException(400, f"need 0 <= start <= end and at most {MAX_RANGE} blocks")
        found = []
        for number in range(start, end + 1):
            try:
                data = node.store.block_bytes(number)
            except StoreCorrupted as exc:
                raise HTTPException(500, str(exc)) from exc
            if data is None:
                break
            found.append(data)
        return Response(codec.encode(found), media_type="application/octet-stream")

    @app.post("/verdicts")
    async def verdict(request: Request) -> dict[str, str]:
        """A validator reports its verdict on a block."""
        try:
            node.record_verdict(Verdict.from_json(await read_json(request, MAX_MESSAGE)))
        except AlreadyRecorded as exc:
            raise HTTPException(409, str(exc)) from exc
        except NotAMember as exc:
            raise HTTPException(403, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        return {"status": "recorded"}

    @app.post("/validators")
    async def register(request: Request) -> dict[str, Any]:
        """A validator of this network registers its key's address and push URL."""
        try:
            registration = Registration.from_json(await read_json(request, MAX_MESSAGE))
            node.members.register(registration)
        except NotAMember as exc:
            raise HTTPException(403, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        return {"status": "registered", "members": len(node.members)}

    return app


class _SubmittingPool:
    """The pool as the RPC layer sees it, with submissions waking the block loop."""

    def __init__(self, node: MinerNode) -> None:
        self.node = node

    def add(self, raw: bytes) -> bytes:
        return self.node.submit(raw)

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int:
        return self.node.txpool.pending_nonce(sender, state_nonce)

    def get(self, tx_hash: bytes) -> bytes | None:
        return self.node.txpool.get(tx_hash)


def _info(node: MinerNode) -> dict[str, Any]:
    return {
        "role": "miner",
        "address": to_data(node.address),
        "head": node.state.head.number,
        "chainId": node.state.config.chain_id,
        "pool": len(node.txpool),
        "peers": node.peers,
        "members": node.members.names(),
        "silentMembers": node.members.silent(),
        "transport": node.settings.transport,
        "blockTxs": node.settings.block_txs,
        "blockInterval": node.settings.block_interval,
    }
