"""Scenario files are checked whole before anything runs: every shipped one loads,
and each kind of mistake is named with its line and field."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadtest.cli.app import app
from loadtest.scenario.spec import MAX_BYTES, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yml"))


def test_the_shipped_scenarios_load():
    names = {load_scenario(path).name for path in SHIPPED}
    assert names == {
        "baseline",
        "wan-100ms",
        "lossy-1pct",
        "rolling-restart",
        "partition-third",
        "redis-outage",
        "ci-wan-lossy",
        "ci-partition-restart",
    }
    partition = load_scenario(ROOT / "scenarios/partition-third.yml")
    first = partition.timeline[0].nodes
    assert first is not None
    assert partition.nodes(first) == ["validator-5", "validator-6"]
    assert partition.nodes("validators")[-1] == "validator-6"


def _check(tmp_path: Path, text: str) -> str:
    path = tmp_path / "s.yml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return str(caught.value)


GOOD_HEAD = "name: t\nnetwork: {validators: 3}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: t\nnetwork:\n  validators: 0\n", ":3: network.validators: Input should be"),
        ("name: t\nnetwork:\n  colour: red\n", ":3: network.colour: Extra inputs"),
        (GOOD_HEAD + "links:\n  - {nodes: all}\n  - {loss_pct: 150}\n", ":5: links[1].loss_pct"),
        (
            GOOD_HEAD + "links:\n  - {latency_ms: 5, jitter_ms: 9}\n",
            ":4: links[0]: Value error, jitter",
        ),
        (GOOD_HEAD + "links:\n  - {nodes: [validator-9]}\n", "no node or group 'validator-9'"),
        (GOOD_HEAD + "load: {workload: nope}\n", ":3: load: Value error, workload 'nope' is none"),
        (GOOD_HEAD + "load: {users: 2, rate: 5}\n", "users or rate, not both"),
        (
            GOOD_HEAD + "timeline:\n  - {at: 5, action: kill}\n",
            ":4: timeline[0]: Value error, kill needs",
        ),
        (GOOD_HEAD + "timeline:\n  - {at: 5, action: heal, nodes: all}\n", "heal takes no nodes"),
        (GOOD_HEAD + "timeline:\n  - {at: 5, action: explode}\n", ":4: timeline[0].action"),
        (
            GOOD_HEAD + "timeline:\n  - {at: 9, action: heal}\n  - {at: 5, action: heal}\n",
            "time order",
        ),
        (
            GOOD_HEAD + "load: {duration_s: 10}\ntimeline:\n  - {at: 50, action: heal}\n",
            "after the load",
        ),
        (GOOD_HEAD + "groups: {miner: [redis]}\n", "shadows a node name"),
        ("name: [unclosed\n", ":2: not YAML"),
        ("- a list\n", ":1: a scenario is a mapping"),
        ("network: {}\n", ":1: name: Field required"),
    ],
)
def test_each_mistake_is_named_with_its_line_and_field(tmp_path, text, expected):
    assert expected in _check(tmp_path, text)


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    message = _check(tmp_path, "name: t\nnetwork:\n  validators: 0\n  workers: 0\n")
    assert len(message.splitlines()) == 2 and ":4: network.workers" in message


def test_a_huge_deeply_nested_or_missing_file_is_refused(tmp_path):
    deep = tmp_path / "deep.yml"
    deep.write_text("name: t\nx: " + "[" * 60_000 + "]" * 60_000 + "\n")
    with pytest.raises(ScenarioError, match=":2: nested deeper than 32 levels"):
        load_scenario(deep)
    huge = tmp_path / "huge.yml"
    huge.write_text("# " + "x" * MAX_BYTES)
    with pytest.raises(ScenarioError, match="larger than"):
        load_scenario(huge)
    with pytest.raises(ScenarioError, match="No such file"):
        load_scenario(tmp_path / "absent.yml")


def test_pavm_scenario_check_prints_the_plan_or_the_problems(tmp_path):
    runner = CliRunner()
    good = runner.invoke(app, ["scenario", "check", str(ROOT / "scenarios/partition-third.yml")])
    assert good.exit_code == 0, good.output
    assert (
        "partition-third" in good.output
        and "15 s: partition validator-5, validator-6" in good.output
    )
    bad = tmp_path / "bad.yml"
    bad.write_text("name: t\nlinks:\n  - {loss_pct: -1}\n")
    result = runner.invoke(app, ["scenario", "check", str(bad)])
    assert result.exit_code == 2 and ":3: links[0].loss_pct" in result.output
