"""``pavm loadtest``: locust, headless, against a running testnet."""

import time
from pathlib import Path
from typing import Annotated

import typer

from loadtest.cli.options import WORKLOAD_HELP, check_workload
from loadtest.cli.output import reported, show


def loadtest(
    target: Annotated[
        str, typer.Option(help="The miner's JSON-RPC URL.")
    ] = "http://127.0.0.1:8545",
    users: Annotated[int, typer.Option(min=1, help="Locust users (each owns accounts).")] = 10,
    spawn_rate: Annotated[float, typer.Option(min=0.1, help="Users started per second.")] = 5.0,
    run_time: Annotated[
        str,
        typer.Option(
            help="How long locust runs: 30s, 2m, 1h30m (the first seconds go to deploying "
            "and enrolling accounts)."
        ),
    ] = "60s",
    workload: Annotated[str, typer.Option(help=WORKLOAD_HELP)] = "erc20",
    conflict_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fraction of transactions on the hot key/account (erc20-approve never "
            "conflicts: each owner's allowance is its own slot).",
        ),
    ] = 0.0,
    scale: Annotated[int, typer.Option(help="Workload scale (-1: its default).")] = -1,
    accounts_per_user: Annotated[int, typer.Option(min=1, help="Accounts per user.")] = 2,
    tx_wait: Annotated[float, typer.Option(min=0.0, help="Seconds between a user's sends.")] = 0.05,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the reports (default: loadtest-results/<time>).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run locust headless against a testnet with one of the paper's workloads.

    Writes locust's CSV files and HTML report, sent.json (every transaction hash) and
    summary.json: throughput counted from mined blocks, inclusion latency percentiles,
    reverts, unmined transactions and the validators' verdicts on the run's blocks.
    Exits 1 if any request or transaction failed. For locust's web UI instead:
    locust -f loadtest/locust/locustfile.py --host URL --workload NAME.
    """
    from loadtest.locust.headless import LocustLoad, as_dict, run_loadtest, write_summary

    check_workload(workload)
    folder = out or Path("loadtest-results") / time.strftime("%Y%m%d-%H%M%S")
    with reported(RuntimeError):
        load = LocustLoad(
            users, spawn_rate, run_time, workload, conflict_rate, scale, accounts_per_user, tx_wait
        )
        summary = run_loadtest(target, load, folder)
    path = write_summary(summary, folder)
    show(as_dict(summary), as_json)
    if not as_json:
        typer.echo(f"reports in {folder}/ (summary: {path.name}, locust.html, locust_*.csv)")
    failed = (
        summary.locust_exit_code != 0
        or summary.reverted
        or summary.not_mined
        or summary.verdicts_reject
    )
    if failed:
        raise typer.Exit(1)
