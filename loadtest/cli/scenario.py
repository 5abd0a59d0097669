"""``pavm scenario``: scenario files (``scenarios/*.yml``) checked, and played on the
compose testnet with a report."""

from pathlib import Path
from typing import Annotated

import docker
import typer

from loadtest.scenario.run import RunOptions, run_scenario
from loadtest.scenario.spec import Scenario, ScenarioError, describe, load_scenario

scenario = typer.Typer(
    help="Network conditions, scheduled faults and load in one YAML file (scenarios/).",
    no_args_is_help=True,
)


FILE = Annotated[Path, typer.Argument(help="The scenario file (YAML).")]


@scenario.command("check")
def check(file: FILE) -> None:
    """Check FILE whole and print what it would do; exit 2 listing every problem, each
    with its line and field, when it cannot be run."""
    for line in describe(_load(file)):
        typer.echo(line)


@scenario.command("run")
def run(
    file: FILE,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for report.md, the PNGs and results.json (default: results/scenario-NAME)."
        ),
    ] = None,
    project: Annotated[
        str, typer.Option(help="Compose project of the testnet: a running one is reused.")
    ] = "pavmscenario",
    down: Annotated[
        bool, typer.Option(help="Take the testnet and its volumes down afterwards.")
    ] = False,
) -> None:
    """Play FILE on the compose testnet: bring it up (or reuse the project's running
    one, changing only what the file sets otherwise), shape every node's link, run
    the load, play the timeline of faults, mend what is left broken, and write
    report.md, PNGs and results.json. Progress goes to the terminal. Exit 1 when
    an acknowledged transaction was not mined or the nodes' state roots differ at
    the end; exit 2 when the file cannot be run."""
    plan = _load(file)
    for line in describe(plan):
        typer.echo(f"[scenario] {line}", err=True)
    try:
        summary = run_scenario(
            plan, file, RunOptions(out or Path("results") / f"scenario-{plan.name}", project, down)
        )
    except (ScenarioError, docker.errors.DockerException) as exc:
        typer.echo(f"pavm scenario run: {exc}", err=True)
        raise typer.Exit(2) from exc
    checks = summary["checks"]
    mined, roots = checks["acknowledged_mined"], checks["state_roots_equal"]
    typer.echo(
        f"acknowledged mined: {mined['mined']}/{mined['sent']} "
        f"({'ok' if mined['ok'] else 'LOST ' + str(mined['sent'] - mined['mined'])}); "
        f"state roots at block {roots['height']}: {'equal' if roots['ok'] else 'DIFFER'}"
    )
    if not (mined["ok"] and roots["ok"]):
        raise typer.Exit(1)


def _load(file: Path) -> Scenario:
    try:
        return load_scenario(file)
    except ScenarioError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
