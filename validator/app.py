"""The validator's HTTP service: block intake, read-only JSON-RPC, health, metrics."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from common.chain.block import Block
from common.net.block_times import BlockTimes
from common.net.metrics import metrics_router, node_families
from common.net.service import node_lifespan
from common.rpc.dispatch import Dispatcher, Handler
from common.rpc.eth import EthApi
from common.rpc.hexcodec import to_data, to_quantity
from common.rpc.http import MAX_BODY, jsonrpc_router, read_body
from common.rpc.node import node_methods
from common.rpc.pavm import PavmNodeApi, equivocations_json
from common.rpc.ws import websocket_router
from common.store.chain import ChainStore
from validator.node import ValidatorNode
from validator.validate import ValidationReport

MAX_BLOCK = 8 * MAX_BODY
"""Largest block a validator takes in (a full 30M-gas block of calldata is ~2 MB)."""
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _ValidatorCollector:
    """Reads the node's counters and recent reports when Prometheus scrapes."""

    def __init__(self, node: ValidatorNode) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        reports = list(node.reports)
        yield from node_families(
            ("Blocks validated", node.validated),
            ("Transactions validated", node.transactions),
            node.head,
            ("Miners this validator follows", 1),
        )
        yield GaugeMetricFamily("pavm_synced", "1 when at the miner's head", value=node.synced)
        rejected = CounterMetricFamily(
            "pavm_rejected_blocks", "Blocks rejected, by reason", labels=["reason"]
        )
        for reason, count in node.rejected.items():
            rejected.add_metric([reason], count)
        yield rejected
        dropped = CounterMetricFamily(
            "pavm_dropped_blocks", "Blocks dropped unvalidated, by cause", labels=["cause"]
        )
        for cause, count in node.dropped.items():
            dropped.add_metric([cause], count)
        yield dropped
        arrived = CounterMetricFamily(
            "pavm_blocks_arrived",
            "Blocks validated, by how they came: push, redis, fetch (filling a gap)",
            labels=["via"],
        )
        for via, count in node.arrivals.items():
            arrived.add_metric([via], count)
        yield arrived
        buckets = [0] * len(LATENCY_BUCKETS)
        for report in reports:
            for i, bound in enumerate(LATENCY_BUCKETS):
                if report.total_s <= bound:
                    buckets[i] += 1
        histogram = HistogramMetricFamily(
            "pavm_validation_seconds", "Validation time of the most recent 100 blocks"
        )
        histogram.add_metric(
            [],
            [
                *((str(b), c) for b, c in zip(LATENCY_BUCKETS, buckets, strict=True)),
                ("+Inf", len(reports)),
            ],
            sum(r.total_s for r in reports),
        )
        yield histogram
        if reports:
            last = reports[-1]
            yield GaugeMetricFamily("pavm_groups", "Groups in the last block", value=last.groups)
            yield GaugeMetricFamily(
                "pavm_speedup_estimate",
                "Last block: (worker CPU seconds + serial phases) / wall seconds",
                value=speedup_estimate(last),
            )
            cpu = CounterMetricFamily(
                "pavm_worker_cpu_seconds",
                "Worker CPU seconds over recent blocks",
                labels=["worker"],
            )
            for worker in range(last.workers):
                cpu.add_metric(
                    [str(worker)],
                    sum(r.worker_cpu_s[worker] for r in reports if len(r.worker_cpu_s) > worker),
                )
            yield cpu
        yield CounterMetricFamily(
            "pavm_equivocations",
            "Heights at which the miner was seen to seal two different blocks",
            value=node.equivocations,
        )
        yield CounterMetricFamily(
            "pavm_rewinds",
            "Times this validator went back to follow the miner's chain",
            value=node.rewinds,
        )


def rpc_methods(
    store: ChainStore,
    lock: threading.RLock,
    info: Callable[[], dict[str, Any]],
    bad_blocks: Callable[[], list[Block]] | None = None,
    reports: Callable[[], list[ValidationReport]] = list,
    times: BlockTimes | None = None,
) -> tuple[EthApi, dict[str, Handler]]:
    """A validator's JSON-RPC: the chain it validated, the blocks it rejected and how
    it validated the recent ones; no pool (docs/rpc.md's method list is generated from it)."""
    eth = EthApi(store, lock, pool=None)
    records = PavmNodeApi(
        info,
        times or BlockTimes(),
        report=lambda number: _report(reports(), number),
        equivocations=lambda: equivocations_json(store),
    )
    return eth, node_methods(eth, records, bad_blocks=bad_blocks or list)


def speedup_estimate(report: ValidationReport) -> float:
    """(worker CPU seconds + the serial phases) / wall seconds of one block: how much
    faster than one core doing the same work, as measured on this validator."""
    serial_equivalent = sum(report.worker_cpu_s) + report.total_s - report.execute_s
    return serial_equivalent / report.total_s if report.total_s else 0.0


def _report(reports: list[ValidationReport], number: int) -> dict[str, Any] | None:
    """How this validator validated block ``number`` (one of its 100 most recent), as
    ``pavm_getValidationReport`` answers, or ``None``."""
    for report in reversed(reports):
        if report.number == number:
            return {
                "number": to_quantity(report.number),
                "blockHash": to_data(report.block_hash),
                "strategy": report.strategy,
                "transactions": report.transactions,
                "groups": report.groups,
                "largestGroup": report.largest_group,
                "workers": report.workers,
                "executions": report.executions,
                "subcallsLent": report.subcalls_lent,
                "phasesMs": {
                    "execute": _ms(report.execute_s),
                    "merge": _ms(report.merge_s),
                    "stateRoot": _ms(report.state_root_s),
                    "total": _ms(report.total_s),
                },
                "workerCpuMs": [_ms(s) for s in report.worker_cpu_s],
                "workerUtilisation": [
                    round(s / report.execute_s, 3) if report.execute_s else 0.0
                    for s in report.worker_cpu_s
                ],
                "cores": list(report.cores),
                "wastedCpuMs": _ms(report.wasted_cpu_s),
                "speedupEstimate": round(speedup_estimate(report), 3),
                "spans": [
                    {
                        "worker": span.worker,
                        "kind": span.kind,
                        "id": span.ident,
                        "startMs": _ms(span.start),
                        "endMs": _ms(span.end),
                        "cpuMs": _ms(span.cpu),
                    }
                    for span in report.spans
                ],
            }
    return None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def create_app(node: ValidatorNode) -> FastAPI:
    """Assemble the validator's routes around ``node`` (started and stopped with the app)."""

    eth, methods = rpc_methods(
        node.store,
        node.lock,
        lambda: _info(node),
        lambda: list(node.bad_blocks),
        lambda: list(node.reports),
        node.times,
    )
    dispatcher = Dispatcher(methods, limits=eth.response_limits())
    app = FastAPI(title="pavm-net validator", lifespan=node_lifespan(node, dispatcher))
    app.include_router(jsonrpc_router(dispatcher))
    app.include_router(websocket_router(dispatcher, eth.subscriptions))
    app.include_router(metrics_router(_ValidatorCollector(node), lambda: dispatcher.calls))

    @app.post("/blocks", status_code=202)
    async def blocks(request: Request) -> dict[str, str]:
        """The miner pushes a block in its wire encoding."""
        node.receive(await read_body(request, MAX_BLOCK))
        return {"status": "queued"}

    @app.get("/health")
    async def health(response: Response) -> dict[str, Any]:
        """200 when at the miner's head, 503 while catching up or without the miner. On
        the event loop, no thread: it reads fields in memory, so it answers however busy
        the threads are."""
        if not node.synced:
            response.status_code = 503
        return {
            "status": "ok" if node.synced else "syncing",
            "role": "validator",
            "name": node.settings.name,
            "head": node.head,
            "minerHead": node.known_head,
        }

    return app


def _info(node: ValidatorNode) -> dict[str, Any]:
    return {
        "role": "validator",
        "name": node.settings.name,
        "miner": to_data(node.settings.miner_address),
        "head": node.head,
        "minerHead": node.known_head,
        "synced": node.synced,
        "workers": node.validator.workers.size,
        "strategy": node.validator.strategy,
        "validated": node.validated,
        "rejected": dict(node.rejected),
        "dropped": dict(node.dropped),
        "arrived": dict(node.arrivals),
        "equivocations": node.equivocations,
        "rewinds": node.rewinds,
    }
