"""``pavm scenario``: scenario files (``scenarios/*.yml``) checked and, later, played."""

from pathlib import Path
from typing import Annotated

import typer

from loadtest.scenario.spec import Link, Scenario, ScenarioError, load_scenario

scenario = typer.Typer(
    help="Network conditions, scheduled faults and load in one YAML file (scenarios/).",
    no_args_is_help=True,
)


@scenario.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The scenario file (YAML).")],
) -> None:
    """Check FILE whole and print what it would do; exit 2 listing every problem, each
    with its line and field, when it cannot be run."""
    try:
        plan = load_scenario(file)
    except ScenarioError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    for line in describe(plan):
        typer.echo(line)


def describe(plan: Scenario) -> list[str]:
    """The scenario in words: network, links, load and the timeline."""
    net, load = plan.network, plan.load
    lines = [
        f"{plan.name}: {plan.description}".rstrip(": "),
        f"network: {net.validators} validators x {net.workers} workers, "
        f"{net.transport} transport, {net.strategy} strategy"
        + (f", {net.cores:g} cores each" if net.cores else ""),
    ]
    lines += [f"link {', '.join(plan.nodes(link.nodes))}: {_link(link)}" for link in plan.links]
    intensity = f"{load.rate:g} tx/s" if load.rate else f"{load.users or 1} users"
    lines.append(
        f"load: {load.workload}, conflict rate {load.conflict_rate:g}, {intensity}, "
        f"{load.duration_s:g} s"
    )
    for fault in plan.timeline:
        whom = f" {', '.join(plan.nodes(fault.nodes))}" if fault.nodes is not None else ""
        how = f" to {_link(fault.link)}" if fault.link is not None else ""
        lines.append(f"  {fault.at:g} s: {fault.action}{whom}{how}")
    return lines


def _link(link: Link) -> str:
    parts = []
    if link.latency_ms:
        parts.append(
            f"{link.latency_ms:g} ms" + (f" ± {link.jitter_ms:g}" if link.jitter_ms else "")
        )
    if link.bandwidth_mbit:
        parts.append(f"{link.bandwidth_mbit:g} Mbit/s")
    if link.loss_pct:
        parts.append(f"{link.loss_pct:g} % loss")
    return ", ".join(parts) or "perfect"
