"""A scenario's report on disk: ``results.json`` (every number), ``report.md`` (the
same as tables, with the plots) and the plots as PNGs."""

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # the backend is chosen before pyplot is imported
import matplotlib.pyplot as plt

from loadtest.scenario.results import ENDS

ENDINGS = {"heal": "partition", "start-redis": "stop-redis", "unpause": "pause", "restart": "kill"}
"""A fault's end -> its start: the time between is shaded on the throughput plot."""


def write_report(out: Path, summary: dict[str, Any]) -> Path:
    """Write the three kinds of file into ``out``; the path of ``report.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    _throughput_plot(out / "throughput.png", summary)
    _latency_plot(out / "latency.png", summary)
    _propagation_plot(out / "propagation.png", summary)
    path = out / "report.md"
    path.write_text(markdown(summary))
    return path


def markdown(summary: dict[str, Any]) -> str:
    s = summary["scenario"]
    checks = summary["checks"]
    mined = checks["acknowledged_mined"]
    roots = checks["state_roots_equal"]
    verdicts = checks["verdicts"]
    lines = [
        f"# Scenario {s['name']}",
        "",
        s["description"],
        "",
        f"From `{s['file']}`, started {s['started']} on the compose testnet "
        f"`{s['project']}`: " + "; ".join(s["plan"]) + f". Link latency by the "
        f"{s['latency_by']}.",
        "",
        "## Checks",
        "",
        f"- {_ok(mined['ok'])} every acknowledged transaction mined: {mined['mined']} of "
        f"{mined['sent']} (by hash)"
        + (f"; missing {', '.join(mined['missing'])}" if mined["missing"] else ""),
        f"- {_ok(roots['ok'])} every node's state root equal at block {roots['height']}: "
        + ", ".join(sorted({str(r) for r in roots["roots"].values()})),
        f"- verdicts on the run's blocks: {verdicts['agree']} agree, {verdicts['reject']} "
        f"reject, {verdicts['missing']} missing of {verdicts['expected']}",
        "",
        "## Throughput",
        "",
        f"{summary['throughput']['mean_tps']} tx/s mined on average over "
        f"{summary['throughput']['blocks']} blocks; faults drawn on the plot.",
        "",
        "![throughput](throughput.png)",
        "",
        "## Latency (ms)",
        "",
        "| from | to | count | p50 | p95 | p99 | max |",
        "|---|---|---:|---:|---:|---:|---:|",
        _row("send", "inclusion (miner)", summary["send_to_inclusion_ms"]),
    ]
    lines += [
        _row("inclusion", f"verdict ({name})", stats)
        for name, stats in summary["inclusion_to_verdict_ms"].items()
    ]
    lines += [
        "",
        "Validators keep block times in memory: one restarted during the run counts "
        "only the blocks since.",
        "",
        "![latency](latency.png)",
        "",
        "## Block propagation (ms), per link class",
        "",
        "Miner's seal to a validator's first copy (pushed or over Redis); blocks "
        "fetched to fill a gap are counted apart.",
        "",
        "| link | count | p50 | p95 | p99 | max | fetched |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {kind} | {p['count']} | {p['p50']} | {p['p95']} | {p['p99']} | {p['max']} | "
        f"{p['fetched']} |"
        for kind, p in summary["propagation_ms"].items()
    ]
    lines += ["", "![propagation](propagation.png)", "", "## Faults", ""]
    if summary["faults"]:
        lines += [
            "Seen: a hit validator not answering or 2 blocks behind the miner; back: every "
            "validator at the miner's head (sampled every 0.5 s from the host).",
            "",
            "| at s | action | nodes | seen after s | all back at head after s | "
            "re-fetched | verdicts missing |",
            "|---:|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {f['t']:g} | {f['action']} | {', '.join(f['nodes']) or '-'} | "
            f"{_s(f['detected_after_s'], f['action'])} | {_s(f['back_at_head_after_s'])} | "
            f"{f['refetched']} | {f['verdicts_missing']} |"
            for f in summary["faults"]
        ]
    else:
        lines.append("None in this scenario.")
    return "\n".join(lines) + "\n"


def _ok(flag: bool) -> str:
    return "**PASS**" if flag else "**FAIL**"


def _row(start: str, end: str, p: dict[str, Any]) -> str:
    return f"| {start} | {end} | {p['count']} | {p['p50']} | {p['p95']} | {p['p99']} | {p['max']} |"


def _s(value: float | None, action: str = "") -> str:
    if value is None:
        return "-" if action in ENDS else "not seen"
    return f"{value:g}"


def _throughput_plot(path: Path, summary: dict[str, Any]) -> None:
    series = summary["throughput"]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.step(series["t"], series["sent_tps"], where="post", label="sent (acknowledged)", alpha=0.6)
    ax.step(series["t"], series["mined_tps"], where="post", label="mined")
    starts: dict[str, float] = {}
    for fault in summary["faults"]:
        ax.axvline(fault["t"], color="tab:red", linestyle="--", linewidth=0.8)
        label = fault["action"] + (f" {','.join(fault['nodes'])}" if fault["nodes"] else "")
        ax.annotate(
            label,
            (fault["t"], 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color="tab:red",
        )
        if fault["action"] in ENDINGS.values():
            starts.setdefault(fault["action"], fault["t"])
        begun = ENDINGS.get(fault["action"])
        if begun in starts:
            ax.axvspan(starts.pop(begun), fault["t"], color="tab:red", alpha=0.08)
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("transactions per second")
    ax.set_title(f"{summary['scenario']['name']}: throughput")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _latency_plot(path: Path, summary: dict[str, Any]) -> None:
    rows = {"send→inclusion": summary["send_to_inclusion_ms"]}
    rows |= {f"→{name}": p for name, p in summary["inclusion_to_verdict_ms"].items()}
    names = list(rows)
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(names) + 1.5))
    y = range(len(names))
    ax.barh([i + 0.2 for i in y], [rows[n]["p95"] for n in names], height=0.4, label="p95")
    ax.barh([i - 0.2 for i in y], [rows[n]["p50"] for n in names], height=0.4, label="p50")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms (validators: from inclusion to verdict)")
    ax.set_title(f"{summary['scenario']['name']}: latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _propagation_plot(path: Path, summary: dict[str, Any]) -> None:
    kinds = summary["propagation_ms"]
    names = list(kinds)
    fig, ax = plt.subplots(figsize=(7, 0.5 * max(1, len(names)) + 1.5))
    for i, name in enumerate(names):
        p = kinds[name]
        ax.plot([p["p50"], p["p95"]], [i, i], color="tab:blue", linewidth=6, alpha=0.5)
        ax.plot([p["p95"], p["max"]], [i, i], color="tab:blue", linewidth=1)
        ax.plot([p["p50"]], [i], "o", color="tab:blue")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("ms from seal to arrival: dot p50, bar to p95, line to max")
    ax.set_title(f"{summary['scenario']['name']}: block propagation per link class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
