"""One PNG per figure of the paper's evaluation, drawn with matplotlib from the series
of :mod:`loadtest.bench.paper.series`. Serial py-evm is drawn in grey ("py-evm (Geth role)"),
pavm's parallel validation in blue, as in the paper's own plots."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from loadtest.workloads.table import WORKLOADS

SERIAL: dict[str, Any] = {"color": "0.45", "label": "py-evm, serial (Geth's role)"}
PARALLEL: dict[str, Any] = {"color": "tab:blue", "label": "pavm, parallel validation"}
ERC20_FUNCTIONS = ("erc20-approve", "erc20", "erc20-transferfrom")


def _grid(count: int, title: str, columns: int = 3) -> tuple[Figure, list[Axes]]:
    rows = -(-count // columns)
    cols = min(columns, count)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    flat = [a for row in axes for a in row]
    for extra in flat[count:]:
        extra.set_visible(False)
    fig.suptitle(title)
    return fig, flat[:count]


def _save(fig: Figure, path: Path) -> Path:
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panels(data: dict[str, list[dict[str, Any]]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """ERC20's three functions share one panel (the paper's function-type axis)."""
    panels: list[tuple[str, list[dict[str, Any]]]] = []
    if all(name in data for name in ERC20_FUNCTIONS):
        rows = [
            {**data[name][0], "label": WORKLOADS[name].paper_name.removeprefix("ERC20 ")}
            for name in ERC20_FUNCTIONS
        ]
        panels.append(("ERC20", rows))
    for name, rows in data.items():
        if name not in ERC20_FUNCTIONS:
            panels.append((name, rows))
    return panels


def _scale_plot(
    data: dict[str, list[dict[str, Any]]],
    path: Path,
    title: str,
    metric: Callable[[dict[str, Any], str], float],
    ylabel: str,
) -> Path:
    panels = _panels(data)
    fig, axes = _grid(len(panels), title)
    for ax, (name, rows) in zip(axes, panels, strict=True):
        if name == "ERC20":
            xs = [r["label"] for r in rows]
            positions = range(len(rows))
            width = 0.38
            ax.bar(
                [p - width / 2 for p in positions],
                [metric(r, "serial") for r in rows],
                width,
                **SERIAL,
            )
            ax.bar(
                [p + width / 2 for p in positions],
                [metric(r, "parallel") for r in rows],
                width,
                **PARALLEL,
            )
            ax.set_xticks(list(positions), xs)
            ax.set_title("ERC20 (function)")
        else:
            spec = WORKLOADS[name]
            xs = [r["scale"] for r in rows]
            ax.plot(xs, [metric(r, "serial") for r in rows], marker="o", **SERIAL)
            ax.plot(xs, [metric(r, "parallel") for r in rows], marker="s", **PARALLEL)
            ax.set_xlabel(spec.scale_label)
            ax.set_title(spec.paper_name)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    return _save(fig, path)


def latency_figure(data: dict[str, Any], path: Path, title: str) -> Path:
    return _scale_plot(data, path, title, lambda r, kind: r[f"{kind}_s"], "latency (s)")


def throughput_figure(data: dict[str, Any], path: Path, title: str) -> Path:
    return _scale_plot(data, path, title, lambda r, kind: r[f"{kind}_tps"], "throughput (tx/s)")


def bar_figure(data: dict[str, list[dict[str, Any]]], path: Path, title: str) -> Path:
    """Fig. 16: one panel per contract, bars per input."""
    panels = _panels(data)
    fig, axes = _grid(len(panels), title, columns=len(panels) if len(panels) <= 4 else 3)
    for ax, (name, rows) in zip(axes, panels, strict=True):
        labels = [r.get("label", str(r.get("scale"))) for r in rows]
        positions = range(len(rows))
        width = 0.38
        ax.bar([p - width / 2 for p in positions], [r["serial_s"] for r in rows], width, **SERIAL)
        ax.bar(
            [p + width / 2 for p in positions], [r["parallel_s"] for r in rows], width, **PARALLEL
        )
        ax.set_xticks(list(positions), labels)
        ax.set_title("ERC20 (function)" if name == "ERC20" else WORKLOADS[name].paper_name)
        if name != "ERC20":
            ax.set_xlabel(WORKLOADS[name].scale_label)
        ax.set_ylabel("validation latency (s)")
        ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def sweep_figure(
    data: dict[str, list[dict[str, Any]]], path: Path, title: str, x: str, xlabel: str
) -> Path:
    """Figs. 17a-c: latency against one knob, one panel per contract."""
    fig, axes = _grid(len(data), title, columns=4)
    for ax, (name, rows) in zip(axes, data.items(), strict=True):
        xs = [r[x] for r in rows]
        ax.plot(xs, [r["serial_s"] for r in rows], marker="o", **SERIAL)
        ax.plot(xs, [r["parallel_s"] for r in rows], marker="s", **PARALLEL)
        ax.set_title(WORKLOADS[name].paper_name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("latency (s)")
        if x == "workers":
            ax.set_xticks(xs)
        elif len(xs) > 2 and max(xs) / max(1, min(xs)) >= 50:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def heatmap_figure(data: dict[str, Any], path: Path, title: str) -> Path:
    """Fig. 17d: recording + grouping time, groups across, group size down."""
    axis = data["axis"]
    grid = [[float("nan")] * len(axis) for _ in axis]
    for cell in data["cells"]:
        row, col = axis.index(cell["group_size"]), axis.index(cell["groups"])
        grid[row][col] = cell["recording_and_grouping_ms"]
    fig, ax = plt.subplots(figsize=(5.8, 4.6))
    image = ax.imshow(grid, cmap="viridis_r", origin="upper")
    ax.set_xticks(range(len(axis)), [str(a) for a in axis])
    ax.set_yticks(range(len(axis)), [str(a) for a in axis])
    ax.set_xlabel("transaction groups")
    ax.set_ylabel("group size (transactions)")
    for cell in data["cells"]:
        row, col = axis.index(cell["group_size"]), axis.index(cell["groups"])
        ax.text(
            col,
            row,
            f"{cell['recording_and_grouping_ms']:.1f}",
            ha="center",
            va="center",
            color="white",
            fontsize=8,
        )
    fig.colorbar(image, ax=ax, label="recording + grouping (ms)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cpu_figure(data: dict[str, dict[str, Any]], path: Path, title: str) -> Path:
    """Figs. 19/20: each core's utilisation during serial and parallel validation."""
    fig, axes = _grid(len(data), title, columns=len(data))
    for ax, (name, row) in zip(axes, data.items(), strict=True):
        cores = range(len(row["serial_cpu"]))
        width = 0.38
        ax.bar([c - width / 2 for c in cores], row["serial_cpu"], width, **SERIAL)
        ax.bar([c + width / 2 for c in cores], row["parallel_cpu"], width, **PARALLEL)
        ax.set_xticks(list(cores), [f"#{c + 1}" for c in cores])
        ax.set_ylim(0, 105)
        ax.set_xlabel("core")
        ax.set_ylabel("utilisation (%)")
        ax.set_title(f"{WORKLOADS[name].paper_name} ({row['scale']})")
        ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def draw_all(series: dict[str, Any], out: Path, cores: int) -> dict[str, Path]:
    """Every figure's PNG in ``out``; returns figure id -> path."""
    on = f"({cores} cores)"
    return {
        "fig14": latency_figure(
            series["fig14"], out / "fig14.png", f"Fig. 14: validation latency across scales {on}"
        ),
        "fig15": latency_figure(
            series["fig15"],
            out / "fig15.png",
            f"Fig. 15: one intra-contract transaction, EVM vs PaVM {on}",
        ),
        "fig16": bar_figure(
            series["fig16"], out / "fig16.png", f"Fig. 16: latency of one block per input {on}"
        ),
        "fig17a": sweep_figure(
            series["fig17a"],
            out / "fig17a.png",
            f"Fig. 17a: latency vs block size {on}",
            "txs",
            "transactions per block",
        ),
        "fig17b": sweep_figure(
            series["fig17b"],
            out / "fig17b.png",
            f"Fig. 17b: latency vs group size {on}",
            "group_size",
            "transactions per group",
        ),
        "fig17c": sweep_figure(
            series["fig17c"],
            out / "fig17c.png",
            f"Fig. 17c: latency vs workers {on}",
            "workers",
            "validation workers",
        ),
        "fig17d": heatmap_figure(
            series["fig17d"], out / "fig17d.png", "Fig. 17d: recording + grouping time (ms)"
        ),
        "fig18": throughput_figure(
            series["fig18"], out / "fig18.png", f"Fig. 18: throughput across scales {on}"
        ),
        "fig19": cpu_figure(
            series["fig19"],
            out / "fig19.png",
            "Fig. 19: CPU per core, one intra-contract transaction",
        ),
        "fig20": cpu_figure(
            series["fig20"], out / "fig20.png", "Fig. 20: CPU per core during validation"
        ),
    }
