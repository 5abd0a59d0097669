"""The miner's HTTP service: JSON-RPC, blocks for catch-up, verdicts, health, metrics."""

from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from common.encoding import codec
from common.errors import StoreCorrupted
from common.net.membership import AlreadyRecorded, NotAMember, Registration
from common.net.service import node_lifespan
from common.net.transport import Verdict
from common.rpc.dispatch import Dispatcher, Handler, expect_params
from common.rpc.eth import EthApi
from common.rpc.hexcodec import parse_block_tag, to_data
from common.rpc.http import block_number, jsonrpc_router, read_json
from common.rpc.pavm import block_times_method
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

    def collect(self) -> Any:
        node = self.node
        yield CounterMetricFamily("pavm_blocks", "Blocks mined", value=node.blocks_mined)
        yield CounterMetricFamily("pavm_txs", "Transactions mined", value=node.txs_mined)
        yield CounterMetricFamily(
            "pavm_subcalls_lent",
            "Sub-calls that helper processes speculated while blocks were built",
            value=node.subcalls_lent,
        )
        yield GaugeMetricFamily("pavm_head", "Head block number", value=node.state.head.number)
        yield GaugeMetricFamily("pavm_pool_size", "Transactions waiting", value=len(node.txpool))
        yield GaugeMetricFamily(
            "pavm_peers", "Validators pushed to over HTTP", value=len(node.peers)
        )
        yield CounterMetricFamily(
            "pavm_pushes_dropped",
            "Block pushes dropped because a peer fell behind (it catches up)",
            value=node.fanout.dropped,
        )


def rpc_methods(node: MinerNode) -> tuple[EthApi, dict[str, Handler]]:
    """The miner's JSON-RPC methods (what docs/rpc.md's method list is generated from)."""
    eth = EthApi(node.store, node.lock, pool=_SubmittingPool(node), node_info=lambda: _info(node))
    methods = eth.methods()
    methods["pavm_getVerdicts"] = lambda params: _verdicts(node, eth, params)
    methods["pavm_getBlockTimes"] = block_times_method(node.times)
    methods.update(TxpoolApi(node.txpool.content, node.state.config.chain_id).methods())
    if node.settings.dev:
        methods.update(DevApi(node, eth).methods())
    return eth, methods


def create_app(node: MinerNode) -> FastAPI:
    """Assemble the miner's routes around ``node`` (started and stopped with the app)."""

    eth, methods = rpc_methods(node)
    dashboard = Dashboard(node, methods)
    app = FastAPI(title="pavm-net miner", lifespan=node_lifespan(node, dashboard))
    app.include_router(dashboard_router(dashboard))
    dispatcher = Dispatcher(methods, refused=REFUSED, limits=eth.response_limits())
    app.include_router(jsonrpc_router(dispatcher))
    app.include_router(websocket_router(dispatcher, eth.subscriptions))
    registry = CollectorRegistry()
    registry.register(_MinerCollector(node))
    calls = Gauge("pavm_rpc_calls", "JSON-RPC calls by method", ["method"], registry=registry)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Ready when the store is open and the block loop runs."""
        return {"status": "ok", "role": "miner", "head": node.state.head.number}

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics."""
        for method, count in dispatcher.calls.items():
            calls.labels(method).set(count)
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

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


def _verdicts(node: MinerNode, eth: EthApi, params: list[Any]) -> Any:
    (tag,) = expect_params(params, 1)
    number = eth.resolve_number(parse_block_tag(tag, "block"))
    return node.store.verdicts(number)
