"""``pavm bench strategies`` on tiny blocks: every strategy ends on the miner's root,
the figures it reports follow from what it measured, and the projection's list
scheduling is the textbook one (timings themselves are never asserted)."""

import json

import matplotlib.image
from typer.testing import CliRunner

from loadtest.bench.projection import declared_time, makespan, optimistic_time, project
from loadtest.cli.app import app
from validator.strategies import STRATEGIES


def test_list_scheduling_longest_first():
    assert makespan([3, 3, 2, 2, 2], 2) == 7  # LPT: {3,2,2} and {3,2}
    assert makespan([5], 40) == 5 and makespan([], 8) == 0
    assert makespan([1] * 80, 40) == 2


def test_projection_follows_each_strategys_dependencies():
    times = [1.0, 1.0, 1.0, 1.0]
    # declared: transaction 2 reads the beneficiary, so it waits for 0 and 1
    assert declared_time(times, {2}, cores=4) == 1 + 1 + 1
    assert optimistic_time(times, [[0, 1, 2, 3], [3]], cores=4) == 2

    def projected(strategy: str) -> float:
        return project(
            strategy,
            times,
            40,
            fixed_s=0.5,
            groups=[(0, 1, 2), (3,)],
            readers=set(),
            rounds=[[0, 1, 2, 3]],
        )

    assert projected("groups") == 3.5
    assert projected("serial") == 4.5
    assert projected("declared") == 1.5


def test_the_bench_measures_every_strategy_on_the_same_blocks(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "strategies",
            "--txs",
            "8",
            "--hot-ratio",
            "0,0.5",
            "--workers",
            "1,2",
            "--repeat",
            "1",
            "--json",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data == json.loads((tmp_path / "results.json").read_text())
    assert matplotlib.image.imread(tmp_path / "strategies.png").shape[1] > 400
    assert "| 0.5 | optimistic | 2 |" in (tmp_path / "strategies.md").read_text()
    cool, hot = data["hot"]
    assert cool["groups"] == 8 and hot["largest_group"] >= 2  # the hot key chains them
    for run in cool["runs"] + hot["runs"]:
        assert run["roots_equal"] is True, run
        assert run["speedup"] > 0 and len(run["core_utilisation"]) == data["cores"]
        assert len(run["worker_utilisation"]) == run["workers"]
        assert all(0 < busy <= 100 for busy in run["worker_utilisation"][:1]), run
        if run["strategy"] in ("optimistic", "serial"):
            assert run["declaration_bytes"] == 0
        else:
            assert run["declaration_bytes"] > 0
    assert {(r["strategy"], r["workers"]) for r in hot["runs"]} == {
        (s, k) for s in STRATEGIES for k in ([1] if s == "serial" else [1, 2])
    }
    optimistic = [r for r in hot["runs"] if r["strategy"] == "optimistic"]
    assert all(r["reexecutions"] > 0 for r in optimistic) and hot["rounds"] >= 2
    assert all(r["reexecutions"] == 0 for r in cool["runs"])
    projected = hot["projection"]
    assert projected["serial"]["40"]["speedup"] <= projected["declared"]["40"]["speedup"]
    assert projected["groups"]["40"]["seconds"] >= projected["declared"]["40"]["seconds"]


def test_bad_ratios_are_refused():
    bad = CliRunner().invoke(app, ["bench", "strategies", "--hot-ratio", "0,2"])
    assert bad.exit_code != 0 and "between 0 and 1" in bad.output
