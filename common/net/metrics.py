"""A node's Prometheus metrics: the ``/metrics`` route over the node's own
collector, and the JSON-RPC calls it served by method (``pavm_rpc_calls``).

Collectors read the node's counters when Prometheus scrapes, so the node keeps no
metric objects of its own; :func:`node_families` are the ones every node has.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4"


class Collector(Protocol):
    """What Prometheus asks of a custom collector."""

    def collect(self) -> Iterator[Metric]: ...


def node_families(
    blocks: tuple[str, int], txs: tuple[str, int], head: int, peers: tuple[str, int]
) -> Iterator[Metric]:
    """``pavm_blocks``, ``pavm_txs``, ``pavm_head`` and ``pavm_peers``: each
    (help text, value) but the head, since a miner and a validator count differently
    (blocks mined or validated, validators pushed to or miners followed)."""
    yield CounterMetricFamily("pavm_blocks", blocks[0], value=blocks[1])
    yield CounterMetricFamily("pavm_txs", txs[0], value=txs[1])
    yield GaugeMetricFamily("pavm_head", "Head block number", value=head)
    yield GaugeMetricFamily("pavm_peers", peers[0], value=peers[1])


def metrics_router(collector: Collector, calls: Callable[[], Mapping[str, int]]) -> APIRouter:
    """``GET /metrics``: ``collector``'s families and ``calls()``, the JSON-RPC calls
    served per method (the dispatcher's count)."""
    registry = CollectorRegistry()
    registry.register(collector)
    gauge = Gauge("pavm_rpc_calls", "JSON-RPC calls by method", ["method"], registry=registry)
    router = APIRouter()

    @router.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics."""
        for method, count in calls().items():
            gauge.labels(method).set(count)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    return router
