"""``pavm bench strategies``: the four validation strategies on the same blocks, as the
share of transactions that hit one hot key grows (the paper's Fig. 17b question).

For each hot ratio one block is mined (``conflict_rate``: that share of transactions
goes to one hot receiver, a chain of conflicts); then, from the same parent:

- serial_s      unmodified py-evm applying the block: the baseline;
- per strategy and worker count, the validator's end-to-end time (decoding the block
  from its wire bytes to the header check), its speedup over py-evm, per-core CPU
  utilisation, transactions executed more than once and the CPU they wasted
  (optimistic), and the bytes of declarations it relied on (the R/W sets; groups also
  the groups; optimistic and serial none);
- a **projection** to 8, 16 and 40 cores (``loadtest/bench/projection.py``) from the
  per-transaction CPU times measured in the same run and each strategy's dependency
  structure: what its schedule would allow there, labelled as such.

Every run must end on the miner's state root without the serial double-check.
"""

import json
import statistics
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from common.chain.grouping import groups_encoding
from loadtest.bench.control import measure_scaling
from loadtest.bench.cpu import profile
from loadtest.bench.projection import project
from loadtest.bench.validate import Prepared, prepare, time_parallel, time_serial
from loadtest.workloads.table import workload as get_workload
from validator.strategies import STRATEGIES, Strategy
from validator.validate import ValidationReport
from validator.workers import allowed_cores

PROJECTED_CORES = (8, 16, 40)
HOT_RATIOS = (0.0, 0.1, 0.3, 0.5, 0.9)


@dataclass(frozen=True)
class StrategyRun:
    strategy: str
    workers: int
    seconds: float
    """Median end-to-end validation time."""
    speedup: float
    """serial_s / seconds."""
    core_utilisation: list[float]
    """Each core's utilisation (percent) during the validations (psutil)."""
    worker_utilisation: list[float]
    """Each worker's CPU time over the wall time (percent): how busy the strategy kept it."""
    executions: int
    reexecutions: int
    wasted_cpu_s: float
    declaration_bytes: int
    roots_equal: bool


@dataclass(frozen=True)
class HotRun:
    hot_ratio: float
    serial_s: float
    groups: int
    largest_group: int
    beneficiary_readers: int
    rounds: int
    """Rounds the optimistic strategy needed (at the largest worker count)."""
    runs: list[StrategyRun]
    projection: dict[str, dict[str, dict[str, float]]]
    """strategy -> cores -> {"seconds", "speedup"}: a projection, not a measurement."""


@dataclass(frozen=True)
class StrategiesResult:
    workload: str
    scale: int
    txs: int
    workers: list[int]
    cores: int
    repeat: int
    machine_scaling: float
    """A control loop on the same cores in the same run (how well K processes run)."""
    hot: list[HotRun]


def _progress(message: str) -> None:
    print(f"[bench strategies] {message}", file=sys.stderr, flush=True)


def _declarations(strategy: Strategy, prepared: Prepared) -> int:
    block = prepared.timed[0]
    if strategy in ("optimistic", "serial"):
        return 0
    groups = len(groups_encoding(block.block.groups, block.block.group_gas))
    return block.rwset_bytes + (groups if strategy == "groups" else 0)


def _run(
    prepared: Prepared, strategy: Strategy, workers: int, repeat: int, serial_s: float
) -> tuple[StrategyRun, ValidationReport, list[float]]:
    """One strategy on ``workers``: its row, its last report, and each repeat's fixed
    cost around execution (wall time minus the execution phase)."""
    seconds, usage, busy, fixed, same = [], [], [], [], True
    report: ValidationReport | None = None

    def validate() -> tuple[float, list[ValidationReport], bool, Any]:
        return time_parallel(prepared, workers, strategy=strategy)

    for _ in range(repeat):
        (wall, reports, ok, _), cpu = profile(validate)
        report = reports[0]
        seconds.append(wall)
        usage.append(cpu.mean)
        busy.append([100 * c / wall for c in report.worker_cpu_s])
        fixed.append(max(0.0, wall - report.execute_s))
        same &= ok
    assert report is not None
    median = statistics.median(seconds)
    txs = len(prepared.timed[0].block.transactions)
    row = StrategyRun(
        strategy=strategy,
        workers=workers,
        seconds=round(median, 4),
        speedup=round(serial_s / median, 3),
        core_utilisation=[round(statistics.mean(c), 1) for c in zip(*usage, strict=True)],
        worker_utilisation=[round(statistics.mean(w), 1) for w in zip(*busy, strict=True)],
        executions=report.executions,
        reexecutions=report.executions - txs,
        wasted_cpu_s=round(report.wasted_cpu_s, 4),
        declaration_bytes=_declarations(strategy, prepared),
        roots_equal=same,
    )
    return row, report, fixed


def _measure(prepared: Prepared, workers: list[int], repeat: int, hot: float) -> HotRun:
    serial = [time_serial(prepared) for _ in range(repeat)]
    serial_s = statistics.median(s for s, _ in serial)
    serial_ok = all(ok for _, ok in serial)
    block = prepared.timed[0].block
    runs: list[StrategyRun] = []
    reports: dict[str, ValidationReport] = {}
    fixed: list[float] = []
    for strategy in STRATEGIES:
        for k in [1] if strategy == "serial" else workers:
            _progress(f"hot {hot:g}: {strategy} on {k} worker(s)")
            row, report, costs = _run(prepared, strategy, k, repeat, serial_s)
            runs.append(replace(row, roots_equal=row.roots_equal and serial_ok))
            if k == max(workers) or strategy == "serial":
                reports[strategy] = report
            if strategy == "declared" and k == max(workers):
                fixed = costs
    times = list(reports["declared"].task_cpu_s)
    rounds = [list(r) for r in reports["optimistic"].rounds]
    readers = {i for i, r in enumerate(block.rwsets) if r.reads_beneficiary}
    fixed_s = statistics.median(fixed)
    projection: dict[str, dict[str, dict[str, float]]] = {}
    for strategy in STRATEGIES:
        projection[strategy] = {}
        for cores in PROJECTED_CORES:
            seconds = project(
                strategy,
                times,
                cores,
                groups=block.groups,
                readers=readers,
                rounds=rounds,
                fixed_s=fixed_s,
            )
            projection[strategy][str(cores)] = {
                "seconds": round(seconds, 4),
                "speedup": round(serial_s / seconds, 2),
            }
    return HotRun(
        hot_ratio=hot,
        serial_s=round(serial_s, 4),
        groups=len(block.groups),
        largest_group=max(len(g) for g in block.groups),
        beneficiary_readers=len(readers),
        rounds=len(rounds),
        runs=runs,
        projection=projection,
    )


def run_strategies_bench(
    workload: str = "erc20",
    hot_ratios: tuple[float, ...] = HOT_RATIOS,
    workers: tuple[int, ...] = (1, 2),
    txs: int = 300,
    repeat: int = 3,
    scale: int | None = None,
) -> StrategiesResult:
    """Measure every strategy on one block per hot ratio."""
    spec = get_workload(workload)
    if not hot_ratios or any(not 0 <= h <= 1 for h in hot_ratios):
        raise ValueError("hot ratios must be between 0 and 1")
    if not workers or min(workers) < 1 or txs < 1 or repeat < 1:
        raise ValueError("workers, txs and repeat must be positive")
    scale = spec.default_scale if scale is None else scale
    _progress(f"control loop on {max(workers)} processes")
    scaling = measure_scaling(max(workers)).machine_scaling
    hot_runs = []
    for hot in hot_ratios:
        _progress(f"hot {hot:g}: mining {txs} {workload} transactions")
        prepared = prepare(spec, scale, txs, conflict_rate=hot)
        hot_runs.append(_measure(prepared, sorted(set(workers)), repeat, hot))
    return StrategiesResult(
        workload=workload,
        scale=scale,
        txs=txs,
        workers=sorted(set(workers)),
        cores=len(allowed_cores()),
        repeat=repeat,
        machine_scaling=scaling,
        hot=hot_runs,
    )


def as_dict(result: StrategiesResult) -> dict[str, Any]:
    return asdict(result)


def table(result: StrategiesResult) -> str:
    """A Markdown table: one row per hot ratio and strategy run."""
    cores = "/".join(str(c) for c in PROJECTED_CORES)
    lines = [
        f"`pavm bench strategies --workload {result.workload} --txs {result.txs}`: "
        f"{result.cores} cores, machine scaling {result.machine_scaling}, medians of "
        f"{result.repeat}. *Projected* columns are list-scheduling projections from the "
        "measured per-transaction times, not measurements.",
        "",
        f"| hot | strategy | workers | seconds | speedup | re-executions | wasted CPU (s) "
        f"| declarations (bytes) | projected speedup {cores} cores |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for hot in result.hot:
        for run in hot.runs:
            projected = " / ".join(
                f"{hot.projection[run.strategy][str(c)]['speedup']:.1f}x" for c in PROJECTED_CORES
            )
            lines.append(
                f"| {hot.hot_ratio:g} | {run.strategy} | {run.workers} | {run.seconds:.3f} "
                f"| {run.speedup:.2f}x | {run.reexecutions} | {run.wasted_cpu_s:.3f} "
                f"| {run.declaration_bytes:,} | {projected} |"
            )
    return "\n".join(lines) + "\n"


def draw(result: StrategiesResult, path: Path) -> Path:
    """Speedup against hot ratio per strategy: measured on the most workers, and the
    projection to 40 cores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (measured, projected) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    most = max(result.workers)
    ratios = [h.hot_ratio for h in result.hot]
    for strategy in STRATEGIES:
        k = 1 if strategy == "serial" else most
        ys = [
            next(r.speedup for r in h.runs if r.strategy == strategy and r.workers == k)
            for h in result.hot
        ]
        measured.plot(ratios, ys, marker="o", label=f"{strategy} ({k} worker{'s' * (k > 1)})")
        far = [h.projection[strategy][str(PROJECTED_CORES[-1])]["speedup"] for h in result.hot]
        projected.plot(ratios, far, marker="o", linestyle="--", label=strategy)
    measured.set_title(f"measured, {result.cores} cores ({result.workload}, {result.txs} txs)")
    projected.set_title(f"projection to {PROJECTED_CORES[-1]} cores (list scheduling)")
    for axes in (measured, projected):
        axes.set_xlabel("share of transactions on one hot key")
        axes.set_ylabel("speedup over py-evm")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _speedup(hot: HotRun, strategy: str, workers: int) -> float:
    return next(r.speedup for r in hot.runs if r.strategy == strategy and r.workers == workers)


def write(result: StrategiesResult, out: Path) -> dict[str, Path]:
    """results.json, strategies.md and strategies.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "results": out / "results.json",
        "table": out / "strategies.md",
        "figure": out / "strategies.png",
    }
    files["results"].write_text(json.dumps(as_dict(result), indent=1) + "\n")
    files["table"].write_text(table(result))
    draw(result, files["figure"])
    return files
