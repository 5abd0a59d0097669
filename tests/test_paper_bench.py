"""``pavm bench paper --quick`` on tiny blocks: every figure's file exists, and the report,
the figures' series and the measured runs tell the same story (timings not asserted)."""

import json
import statistics

import matplotlib.image
import psutil
import pytest
from typer.testing import CliRunner

from loadtest.bench.paper.plan import FIG15_WORKLOADS, Settings, heatmap_cells, tx_counts
from loadtest.cli.app import app
from loadtest.workloads.table import PAPER_WORKLOADS, WORKLOADS

FIGURES = (
    "fig14",
    "fig15",
    "fig16",
    "fig17a",
    "fig17b",
    "fig17s",
    "fig17c",
    "fig17d",
    "fig18",
    "fig19",
    "fig20",
)
TXS = 6


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    result = CliRunner().invoke(
        app, ["bench", "paper", "--quick", "--txs", str(TXS), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    # --json prints the run's settings and each figure's mean speedup over its rows.
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["meta"] == results["meta"]
    fig14 = [row["speedup"] for rows in results["figures"]["fig14"].values() for row in rows]
    assert printed["mean_speedup"]["fig14"] == round(statistics.mean(fig14), 3)
    return out, results


# The report fixture runs the whole quick paper bench: minutes on two cores.
@pytest.mark.slow
def test_every_figure_is_a_png_the_report_shows(report):
    out, _ = report
    text = (out / "report.md").read_text()
    for figure in FIGURES:
        image = matplotlib.image.imread(out / f"{figure}.png")
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert f"({figure}.png)" in text
    # Each figure's section quotes the paper (40 cores) and, for speedups, ours per core.
    assert text.count("**Paper (40 cores):**") == len(FIGURES)
    assert "per core" in text and "yes**" in text


@pytest.mark.slow
def test_series_match_the_measured_runs(report):
    _, results = report
    meta = results["meta"]
    assert meta["quick"] and meta["txs"] == TXS and meta["all_roots_equal"]
    runs = {(r["workload"], r["scale"], r["txs"], r["group_size"]): r for r in results["runs"]}
    assert all(r["roots_equal"] for r in runs.values())
    fig14 = results["figures"]["fig14"]
    assert set(fig14) == set(PAPER_WORKLOADS)
    for name, rows in fig14.items():
        assert [row["scale"] for row in rows] == list(WORKLOADS[name].quick_scales)
        for row in rows:
            run = runs[(name, row["scale"], TXS, 0)]
            parallel = run["parallel_s"][str(meta["cores"])]
            assert row["serial_s"] == run["serial_s"] and row["parallel_s"] == parallel
            assert row["speedup"] == round(run["serial_s"] / parallel, 3)
            assert row["serial_tps"] == round(TXS / run["serial_s"], 1)
            # Conflict-free blocks: one group per transaction.
            assert row["groups"] == TXS
    strategies = results["figures"]["fig17s"]
    assert [hot["hot_ratio"] for hot in strategies["hot"]] == [0.0, 0.5]
    assert all(run["roots_equal"] for hot in strategies["hot"] for run in hot["runs"])
    assert strategies["txs"] == TXS and "| 0.5 | declared |" in strategies["table"]
    settings = Settings(quick=True, txs=TXS, repeat=1, cores=meta["cores"])
    for rows in results["figures"]["fig17a"].values():
        assert [row["txs"] for row in rows] == tx_counts(settings)
    for rows in results["figures"]["fig17b"].values():
        for row in rows:  # groups of group_size transactions each
            assert row["groups"] == -(-TXS // row["group_size"])
            assert row["largest_group"] == row["group_size"]
    for rows in results["figures"]["fig17c"].values():
        assert [row["workers"] for row in rows] == list(range(1, meta["cores"] + 1))
    cells = results["figures"]["fig17d"]["cells"]
    assert [(c["groups"], c["group_size"]) for c in cells] == heatmap_cells(settings)
    intra = {(r["workload"], r["scale"]): r for r in results["intra_runs"]}
    fig15 = results["figures"]["fig15"]
    assert set(fig15) == set(FIG15_WORKLOADS)
    for name, rows in fig15.items():
        assert [row["scale"] for row in rows] == list(WORKLOADS[name].intra_quick_scales)
        for row in rows:
            run = intra[(name, row["scale"])]
            assert (row["serial_s"], row["parallel_s"]) == (run["serial_s"], run["pavm_s"])
            assert run["results_equal"] and run["roots_equal"] and row["results_equal"]
            assert run["threads"] == meta["cores"]
            assert row["lent"] == (meta["cores"] - 1 if meta["cores"] > 1 else 0)
    for name, row in results["figures"]["fig19"].items():
        largest = intra[(name, WORKLOADS[name].intra_quick_scales[-1])]
        assert row["parallel_cpu"] == largest["core_utilisation"]
        assert row["serial_cpu"] == largest["serial_core_utilisation"]
    for figure in ("fig19", "fig20"):
        for row in results["figures"][figure].values():
            for profile in (row["serial_cpu"], row["parallel_cpu"]):
                assert len(profile) == psutil.cpu_count()
                assert all(0 <= value <= 100 for value in profile)


def test_bad_input_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["bench", "paper", "--txs", "0", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "txs" in result.output.lower()
