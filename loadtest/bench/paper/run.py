"""Run the paper's evaluation end to end: plan, measure with progress and an ETA, then
write ``results.json``, one PNG per figure and ``report.md`` into one folder."""

import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from loadtest.bench.intra import IntraResult, run_intra_bench
from loadtest.bench.paper.figures import draw_all
from loadtest.bench.paper.measure import Measured, measure
from loadtest.bench.paper.plan import Job, Needs, Settings, intra_jobs, plan
from loadtest.bench.paper.report import write_report
from loadtest.bench.paper.series import figures
from loadtest.bench.strategies import HOT_RATIOS, run_strategies_bench
from loadtest.bench.strategies import as_dict as strategies_dict
from loadtest.bench.strategies import draw as draw_strategies
from loadtest.bench.strategies import table as strategies_table
from loadtest.workloads.table import WORKLOADS
from validator.workers import allowed_cores


@dataclass(frozen=True)
class PaperRun:
    """Where the run wrote its files, and whether every root agreed."""

    out: Path
    files: dict[str, Path]
    all_roots_equal: bool
    seconds: float
    summary: dict[str, Any]
    """What ``--json`` prints: the run's settings and each figure's mean speedup."""


def _say(line: str) -> None:
    print(f"[paper] {line}", file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _cost(job: Job, needs: Needs, repeat: int) -> float:
    """Rough relative cost of a job, for the ETA: gas executed times passes over it."""
    passes = 4 + repeat * (1 + len(needs.workers) + needs.record) + 2 * needs.cpu
    return job.txs * WORKLOADS[job.workload].gas(job.scale) * passes


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return f"{model}, {psutil.cpu_count()} logical CPUs, {memory:.0f} GiB"


def run_paper_bench(
    out: Path, quick: bool = False, txs: int = 300, repeat: int | None = None
) -> PaperRun:
    """Measure every figure's jobs and write the report into ``out``."""
    if txs < 1:
        raise ValueError("txs must be positive")
    settings = Settings(
        quick=quick,
        txs=txs,
        repeat=repeat if repeat is not None else (1 if quick else 3),
        cores=len(allowed_cores()),
    )
    if settings.repeat < 1:
        raise ValueError("repeat must be positive")
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan(settings)
    costs = {job: _cost(job, needs, settings.repeat) for job, needs in jobs.items()}
    total = sum(costs.values())
    _say(
        f"{len(jobs)} blocks to build and time ({'quick' if quick else 'full'} run, "
        f"{txs} transactions per block, {settings.cores} cores, repeat {settings.repeat})"
    )
    started = time.monotonic()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    runs: dict[Job, Measured] = {}
    done = 0.0
    # Each block's figures are kept as soon as they exist: a long run that stops
    # half-way still leaves what it measured.
    partial_runs = out / "runs.jsonl"
    partial_runs.write_text("")
    for index, (job, needs) in enumerate(jobs.items(), start=1):
        label = f"{job.workload} scale={job.scale} txs={job.txs}"
        if job.group_size:
            label += f" group={job.group_size}"
        if job.threads:
            label += f" threads={job.threads}"
        _say(f"{index}/{len(jobs)} {label}")
        runs[job] = measure(job, needs, settings.repeat)
        with partial_runs.open("a") as log:
            log.write(json.dumps(runs[job].as_dict()) + "\n")
        done += costs[job]
        elapsed = time.monotonic() - started
        eta = elapsed / done * (total - done)
        _say(
            f"    serial {runs[job].serial_s:.3f}s, parallel "
            f"{', '.join(f'{w}w {s:.3f}s' for w, s in runs[job].parallel_s.items()) or '-'}; "
            f"elapsed {_clock(elapsed)}, ETA {_clock(eta)}"
        )
    intra: dict[tuple[str, int], IntraResult] = {}
    for index, (name, scale) in enumerate(intra_jobs(settings), start=1):
        _say(f"intra {index}/{len(intra_jobs(settings))} {name} scale={scale}: one transaction")
        result = run_intra_bench(
            name, scale, threads=settings.cores, workers=settings.cores, repeat=settings.repeat
        )
        intra[(name, scale)] = result
        with partial_runs.open("a") as log:
            log.write(json.dumps(asdict(result)) + "\n")
        _say(f"    serial {result.serial_s:.3f}s, pavm {result.pavm_s:.3f}s")
    ratios = (0.0, 0.5) if quick else HOT_RATIOS
    _say(f"strategies: erc20 at hot ratios {', '.join(f'{r:g}' for r in ratios)}")
    strategies = run_strategies_bench(
        "erc20", ratios, (settings.cores,), settings.txs, settings.repeat
    )
    seconds = time.monotonic() - started
    series = figures(settings, runs, intra)
    series["fig17s"] = {**strategies_dict(strategies), "table": strategies_table(strategies)}
    all_roots_equal = (
        all(m.roots_equal for m in runs.values())
        and all(r.roots_equal and r.results_equal for r in intra.values())
        and all(run.roots_equal for hot in strategies.hot for run in hot.runs)
    )
    meta: dict[str, Any] = {
        "started": stamp,
        "seconds": round(seconds, 1),
        "machine": _machine(),
        "quick": quick,
        "txs": txs,
        "repeat": settings.repeat,
        "cores": settings.cores,
        "python": platform.python_version(),
        "py_evm": version("py-evm"),
        "pavm_net": version("pavm-net"),
        "all_roots_equal": all_roots_equal,
    }
    results = {
        "meta": meta,
        "workloads": {
            w.name: {
                "paper_name": w.paper_name,
                "parallelism": w.parallelism,
                "scale_label": w.scale_label,
                "paper_scales": w.paper_scales,
                "scales": list(w.scales_for(quick)),
            }
            for w in WORKLOADS.values()
            if w.name != "transfer"
        },
        "runs": [m.as_dict() for m in runs.values()],
        "intra_runs": [asdict(r) for r in intra.values()],
        "figures": series,
    }
    _say("drawing figures and writing the report")
    files: dict[str, Path] = dict(draw_all(series, out, settings.cores))
    files["fig17s"] = draw_strategies(strategies, out / "fig17s.png")
    files["results"] = out / "results.json"
    files["results"].write_text(json.dumps(results, indent=1) + "\n")
    files["report"] = write_report(out / "report.md", settings, series, meta)
    _say(f"done in {_clock(seconds)}: {out / 'report.md'}")
    mean_speedup = {
        fig: round(statistics.mean(r["speedup"] for rs in series[fig].values() for r in rs), 3)
        for fig in ("fig14", "fig15", "fig16", "fig17a", "fig17b", "fig17c")
    }
    summary = {
        "meta": meta,
        "mean_speedup": mean_speedup,
        "files": {name: str(path) for name, path in files.items()},
    }
    return PaperRun(out, files, all_roots_equal, seconds, summary)
