"""Each figure's data, cut from the measured jobs: what ``results.json`` lists under
``figures`` and what the plots and the report draw from."""

from typing import Any

from loadtest.bench.intra import IntraResult
from loadtest.bench.paper.measure import Measured
from loadtest.bench.paper.plan import (
    FIG15_WORKLOADS,
    FIG17_WORKLOADS,
    FIG19_WORKLOADS,
    FIG20_WORKLOADS,
    HEATMAP_WORKLOAD,
    Job,
    Settings,
    fixed_scale,
    group_sizes,
    heatmap_axis,
    heatmap_cells,
    threads_of,
    tx_counts,
)
from loadtest.workloads.table import PAPER_WORKLOADS, WORKLOADS

FIG16_WORKLOADS: tuple[str, ...] = (
    *("erc20-approve", "erc20", "erc20-transferfrom"),
    *("fibonacci", "cpuheavy", "kvstore-read", "kvstore-write"),
)


def _latency(m: Measured, workers: int) -> dict[str, Any]:
    parallel = m.parallel_s[workers]
    return {
        "threads": m.threads,
        "parallelism": m.parallelism,
        "serial_s": m.serial_s,
        "parallel_s": parallel,
        "speedup": round(m.serial_s / parallel, 3),
        "serial_tps": round(m.txs / m.serial_s, 1),
        "parallel_tps": round(m.txs / parallel, 1),
        "groups": m.groups,
        "largest_group": m.largest_group,
    }


def figures(
    settings: Settings, runs: dict[Job, Measured], intra: dict[tuple[str, int], IntraResult]
) -> dict[str, Any]:
    """Every figure's series (latencies in seconds, throughput in transactions/s)."""
    cores, txs, quick = settings.cores, settings.txs, settings.quick

    def across_scales(names: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
        return {
            name: [
                {
                    "scale": scale,
                    **_latency(runs[Job(name, scale, txs, 0, threads_of(name, settings))], cores),
                }
                for scale in WORKLOADS[name].scales_for(quick)
            ]
            for name in names
        }

    out: dict[str, Any] = {"fig14": across_scales(PAPER_WORKLOADS)}
    out["fig16"] = across_scales(FIG16_WORKLOADS)
    out["fig18"] = out["fig14"]
    fixed = {name: fixed_scale(name, quick) for name in WORKLOADS}
    out["fig17a"] = {
        name: [
            {"txs": n, **_latency(runs[Job(name, fixed[name], n)], cores)}
            for n in tx_counts(settings)
        ]
        for name in FIG17_WORKLOADS
    }
    out["fig17b"] = {
        name: [
            {"group_size": g, **_latency(runs[Job(name, fixed[name], txs, g)], cores)}
            for g in group_sizes(settings)
        ]
        for name in FIG17_WORKLOADS
    }
    out["fig17c"] = {
        name: [
            {"workers": w, **_latency(runs[Job(name, fixed[name], txs)], w)}
            for w in range(1, cores + 1)
        ]
        for name in FIG17_WORKLOADS
    }
    cells = []
    for groups, size in heatmap_cells(settings):
        m = runs[Job(HEATMAP_WORKLOAD, fixed[HEATMAP_WORKLOAD], groups * size, size)]
        assert m.record_s is not None
        recording_ms = (m.record_s - m.serial_s) * 1000
        cells.append(
            {
                "groups": groups,
                "group_size": size,
                "txs": groups * size,
                "serial_ms": round(m.serial_s * 1000, 3),
                "record_ms": round(m.record_s * 1000, 3),
                "recording_ms": round(recording_ms, 3),
                "grouping_ms": m.grouping_ms,
                "recording_and_grouping_ms": round(recording_ms + m.grouping_ms, 3),
            }
        )
    out["fig17d"] = {"axis": heatmap_axis(settings), "workload": HEATMAP_WORKLOAD, "cells": cells}
    out["fig20"] = {}
    for name in FIG20_WORKLOADS:
        m = runs[Job(name, fixed[name], txs)]
        out["fig20"][name] = {
            "scale": m.scale,
            "serial_cpu": m.cpu_serial,
            "parallel_cpu": m.cpu_parallel,
            **_latency(m, cores),
        }
    out["few_txs"] = {
        name: _latency(runs[Job(name, fixed[name], 1, threads=cores)], cores)
        | {"scale": fixed[name], "txs": 1}
        for name in FIG15_WORKLOADS
    }
    out["fig15"] = {
        name: [_intra(r) for (n, _), r in sorted(intra.items()) if n == name]
        for name in FIG15_WORKLOADS
    }
    out["fig19"] = {}
    for name in FIG19_WORKLOADS:
        largest = max((r for (n, _), r in intra.items() if n == name), key=lambda r: r.scale)
        out["fig19"][name] = {
            "serial_cpu": largest.serial_core_utilisation,
            "parallel_cpu": largest.core_utilisation,
            **_intra(largest),
        }
    return out


def _intra(r: IntraResult) -> dict[str, Any]:
    """One intra transaction: py-evm on the serial contract, pavm on the parallel one."""
    return {
        "scale": r.scale,
        "serial_s": r.serial_s,
        "parallel_s": r.pavm_s,
        "one_worker_s": r.pavm_one_worker_s,
        "speedup": r.speedup,
        "machine_scaling": r.machine_scaling,
        "efficiency": r.efficiency,
        "threads": r.threads,
        "lent": r.lent,
        "results_equal": r.results_equal,
    }
