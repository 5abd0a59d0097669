"""``report.md``: each figure of the paper's evaluation with our measurement, the
paper's own numbers beside it, and the speedup per core, so a reader sees where a
small machine stands against the paper's 40 cores."""

import statistics
from pathlib import Path
from typing import Any

from loadtest.bench.paper.plan import Settings
from loadtest.workloads.table import WORKLOADS

PAPER_CORES = 40
PAPER_MACHINE = "Xeon E5-2630 servers, 2.3 GHz, 40 cores, 96 GB; Geth as the serial baseline"

PAPER: dict[str, tuple[str, float | None]] = {
    # figure: (what the paper reports, its mean speedup over Geth where it gives one)
    "fig14": (
        "17.5x, 17.7x, 18.5x, 33x, 26.7x, 33.6x and 21x over Geth on seven contracts "
        "(latency down by more than 95.4% on average), with inter- and intra-contract "
        "parallelism",
        statistics.mean((17.5, 17.7, 18.5, 33, 26.7, 33.6, 21)),
    ),
    "fig15": (
        "intra-contract parallelism on one transaction: latency down 69-95% for MatrixMul, "
        "MatrixAdd, Substring and Histogram, up to 22x for Substring on 40 cores",
        None,
    ),
    "fig16": (
        "latency down 75% / 68.3% / 68% for approve / transfer / transferFrom, 94.3% for "
        "Fibonacci, 94.1-94.5% for CPUheavy (12.7 s to 0.68 s at size 210), 94.3% / 94.9% "
        "for KVstore reads / writes",
        None,
    ),
    "fig17a": (
        "13x, 17.2x, 16.2x and 19.2x on average for ERC20, Fibonacci, CPUheavy and KVstore "
        "across block sizes; at most 27x (ERC20, 300 transactions)",
        statistics.mean((13, 17.2, 16.2, 19.2)),
    ),
    "fig17b": (
        "as groups grow, Geth goes from 2.78 s to 81.9 s and PaVM from 0.57 s to 5.9 s; "
        "latency down 64.8%, 78.6%, 79.4% and 79.8% for the four contracts",
        None,
    ),
    "fig17s": (
        "no such figure; Fig. 17b's groups slow as they grow (Geth 2.78 s to 81.9 s, PaVM "
        "0.57 s to 5.9 s), grevm 1.0 collapsed at a 30% hot ratio, and Ethereum's answer "
        "(EIP-7928 block-level access lists) validates every transaction at once from "
        "declared post-values; here, the declared strategy's mean",
        None,
    ),
    "fig17c": (
        "from 5 to 40 threads: transferFrom 17 ms to 1.8 ms (9.4x), Fibonacci 3.2x, "
        "CPUheavy 6.7 s to 1.1 s, KVstore 5.1 s to 1.3 s",
        None,
    ),
    "fig17d": (
        "recording and grouping grow with the number of transactions; recording 300 "
        "transactions takes 4.5 ms, 0.3% of parallel validation",
        None,
    ),
    "fig18": (
        "throughput up 24.4x over Geth overall: Fibonacci 26 to 457 TPS, KVstore 27 to 498 "
        "TPS, MatrixMul above 1,550 TPS (Geth 17), Substring near 1,800 (Geth 60), "
        "Histogram up to 2,142 (Geth at most 103)",
        24.4,
    ),
    "fig19": (
        "contract execution with intra-contract threads: 93.7-99.9% mean utilisation over "
        "40 cores for PaVM against 3-6.4% for the EVM, which uses one core",
        None,
    ),
    "fig20": (
        "validation of Fibonacci, CPUheavy and KVstore: Geth keeps one core at 60.9-94.7% "
        "and the rest near 0.6%; PaVM keeps all 40 cores at 94.4-98.3% on average",
        None,
    ),
}


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _name(workload: str) -> str:
    return WORKLOADS[workload].paper_name


def _comparison(figure: str, ours: list[float], cores: int) -> str:
    """The paper's claim next to our mean speedup, both also per core."""
    text, paper_mean = PAPER[figure]
    lines = [f"**Paper ({PAPER_CORES} cores):** {text}."]
    if paper_mean is not None:
        lines[0] += f" Mean {paper_mean:.1f}x = {paper_mean / PAPER_CORES:.2f}x per core."
    if ours:
        mean = statistics.mean(ours)
        lines.append(
            f"**Here ({cores} cores):** mean speedup {mean:.2f}x "
            f"(range {min(ours):.2f}x-{max(ours):.2f}x) = {mean / cores:.2f}x per core."
        )
    return "\n\n".join(lines)


def _scale(workload: str, scale: int) -> str:
    """ERC20's axis is its function, already in its name: no scale to show."""
    return "-" if WORKLOADS[workload].scale_label == "-" else str(scale)


def _latency_rows(series: dict[str, list[dict[str, Any]]], x: str) -> list[list[Any]]:
    return [
        [
            _name(name),
            _scale(name, row[x]) if x == "scale" else row[x],
            f"{row['serial_s']:.3f}",
            f"{row['parallel_s']:.3f}",
            f"{row['speedup']:.2f}x",
            row["groups"],
            row["parallelism"],
        ]
        for name, rows in series.items()
        for row in rows
    ]


def _strategy_speedups(series: dict[str, Any]) -> list[float]:
    """The declared strategy's measured speedups on every core, one per hot ratio."""
    return [
        run["speedup"]
        for hot in series["hot"]
        for run in hot["runs"]
        if run["strategy"] == "declared" and run["workers"] == series["workers"][-1]
    ]


def _speedups(series: dict[str, list[dict[str, Any]]]) -> list[float]:
    return [row["speedup"] for rows in series.values() for row in rows]


def write_report(
    path: Path,
    settings: Settings,
    series: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write report.md next to the figures it links."""
    cores = settings.cores
    head = ["workload", "scale", "serial (s)", "parallel (s)", "speedup", "groups", "parallelism"]
    parts = [
        "# pavm-net: the PaVM paper's evaluation, measured here",
        f"Run {meta['started']} on {meta['machine']}: {cores} cores used for validation, "
        f"{settings.txs} transactions per block, median of {settings.repeat} "
        f"run(s){', --quick' if settings.quick else ''}, {meta['seconds']:.0f} s in all. "
        f"Every block's state root agreed between unmodified py-evm, the recording miner "
        f"and every validator run: **{'yes' if meta['all_roots_equal'] else 'NO'}**.",
        "*Serial* is unmodified py-evm executing the block's transactions one by one and "
        "computing the state root (the paper's Geth role). *Parallel* is pavm's validator: "
        f"the block decoded from its wire bytes, groups executed on {cores} pinned worker "
        "processes, R/W sets and operation receipts checked, state root and header "
        f"rebuilt. The paper used {PAPER_MACHINE}. py-evm interprets EVM code far slower "
        "than Geth, so scales are smaller than the paper's (table below). The speedup "
        "per core puts both machines on one scale; it does not rank them, since "
        "per-core efficiency falls as cores are added.",
        "Which parallelism each figure uses: Figs. 16, 17 and 20 validate blocks of "
        "inter-contract workloads, so only the transactions of a block run in parallel "
        "(inter). In Figs. 14 and 18 the four intra-contract workloads' transactions call "
        f"their parallel contracts ({cores} sub-calls of the fork-join precompile each, "
        "which the validator lends to idle workers), so their blocks use both kinds; "
        "py-evm runs the same blocks, each fork-join in its serial definition. The "
        "*parallelism* column says what each parallel run used: inter (several groups), "
        "intra (only sub-calls on lent workers) or both. Figs. 15 and 19 measure one "
        "transaction of the parallel contracts against py-evm running the serial "
        "contract; their *machine scaling* is a control loop on the same cores in the "
        "same run, and *efficiency* the speedup divided by it.",
        _table(
            ["workload", "paper's axis", "paper's scales", "scales here"],
            [
                [
                    w.paper_name,
                    w.scale_label,
                    w.paper_scales,
                    ", ".join(_scale(w.name, s) for s in w.scales_for(settings.quick)),
                ]
                for w in WORKLOADS.values()
                if w.name != "transfer"
            ],
        ),
        "## Fig. 14: validation latency across scales",
        "![Fig. 14](fig14.png)",
        _comparison("fig14", _speedups(series["fig14"]), cores),
        _table(head, _latency_rows(series["fig14"], "scale")),
        "## Fig. 15: one intra-contract transaction",
        "![Fig. 15](fig15.png)",
        _comparison("fig15", _speedups(series["fig15"]), cores),
        _table(
            [
                "workload",
                "scale",
                "serial (s)",
                "pavm (s)",
                "one worker (s)",
                "speedup",
                "machine scaling",
                "efficiency",
            ],
            [
                [
                    _name(name),
                    row["scale"],
                    f"{row['serial_s']:.3f}",
                    f"{row['parallel_s']:.3f}",
                    f"{row['one_worker_s']:.3f}",
                    f"{row['speedup']:.2f}x",
                    f"{row['machine_scaling']:.2f}",
                    f"{row['efficiency']:.2f}",
                ]
                for name, rows in series["fig15"].items()
                for row in rows
            ],
        ),
        "## Blocks of fewer transactions than cores",
        "One transaction per block of each intra-contract workload at its fixed scale: "
        "inter-contract parallelism has nothing to share, so any speedup is the "
        "sub-calls' (py-evm runs the same block serially).",
        _table(
            ["workload", "scale", "serial (s)", "pavm (s)", "speedup", "parallelism"],
            [
                [
                    _name(name),
                    row["scale"],
                    f"{row['serial_s']:.3f}",
                    f"{row['parallel_s']:.3f}",
                    f"{row['speedup']:.2f}x",
                    row["parallelism"],
                ]
                for name, row in series["few_txs"].items()
            ],
        ),
        "## Fig. 16: validation latency of one block",
        "![Fig. 16](fig16.png)",
        _comparison("fig16", _speedups(series["fig16"]), cores),
        "## Fig. 17a: latency against transactions per block",
        "![Fig. 17a](fig17a.png)",
        _comparison("fig17a", _speedups(series["fig17a"]), cores),
        _table(["workload", "transactions", *head[2:]], _latency_rows(series["fig17a"], "txs")),
        "## Fig. 17b: latency against group size",
        f"The block's {settings.txs} transactions fall into groups of the given size that "
        "each write one shared key, so larger groups leave fewer groups to run at once.",
        "![Fig. 17b](fig17b.png)",
        _comparison("fig17b", _speedups(series["fig17b"]), cores),
        _table(
            ["workload", "group size", *head[2:]], _latency_rows(series["fig17b"], "group_size")
        ),
        "## Beside Fig. 17b: validation strategies against a hot key",
        "![Strategies](fig17s.png)",
        _comparison("fig17s", _strategy_speedups(series["fig17s"]), cores),
        "A hot key puts every transaction that touches it into one group, and a group runs "
        "on one core: the collapse Fig. 17b shows. The same blocks validated by each "
        "strategy (`pavm bench strategies`): groups, declared writes (every transaction at "
        "once from the declared post-values), optimistic re-execution (no declarations), "
        "serial. The right-hand panel and the projected columns are list-scheduling "
        "projections from the measured per-transaction times, not measurements.",
        series["fig17s"]["table"],
        "## Fig. 17c: latency against worker processes",
        "![Fig. 17c](fig17c.png)",
        _comparison("fig17c", [], cores),
        _table(["workload", "workers", *head[2:]], _latency_rows(series["fig17c"], "workers")),
        "## Fig. 17d: recording and grouping time",
        "Recording time is the recording miner's execution minus unmodified py-evm's on the "
        "same block (a difference of two medians: small blocks can show noise of either "
        "sign); grouping is union-find over the block's R/W sets.",
        "![Fig. 17d](fig17d.png)",
        _comparison("fig17d", [], cores),
        _table(
            ["groups", "group size", "txs", "serial (ms)", "recording (ms)", "grouping (ms)"],
            [
                [
                    c["groups"],
                    c["group_size"],
                    c["txs"],
                    c["serial_ms"],
                    c["recording_ms"],
                    c["grouping_ms"],
                ]
                for c in series["fig17d"]["cells"]
            ],
        ),
        "## Fig. 18: throughput across scales",
        "Transactions per second of validation: the block's transactions over its "
        "validation latency.",
        "![Fig. 18](fig18.png)",
        _comparison("fig18", _speedups(series["fig18"]), cores),
    ]
    for figure, title in (
        ("fig19", "Fig. 19: CPU utilisation per core, one intra-contract transaction"),
        ("fig20", "Fig. 20: CPU utilisation per core during validation"),
    ):
        rows = [
            [
                _name(name),
                row["scale"],
                " / ".join(f"{v:.0f}" for v in row["serial_cpu"]),
                " / ".join(f"{v:.0f}" for v in row["parallel_cpu"]),
                f"{row['speedup']:.2f}x",
            ]
            for name, row in series[figure].items()
        ]
        parts += [
            f"## {title}",
            f"![{title.split(':')[0]}]({figure}.png)",
            _comparison(figure, [], cores),
            _table(["workload", "scale", "serial %/core", "parallel %/core", "speedup"], rows),
        ]
    path.write_text("\n\n".join(parts) + "\n")
    return path
