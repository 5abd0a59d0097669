"""The ``pavm`` command line: the user's front door to benchmarks (and, later, the testnet)."""

import json
from importlib.metadata import version
from typing import Annotated

import typer

app = typer.Typer(
    help="pavm-net: a PaVM testnet — recorded serial mining, grouped parallel validation.",
    no_args_is_help=True,
    add_completion=False,
)
bench = typer.Typer(
    help="Measure serial py-evm against pavm's parallel validation (JSON with --json).",
    no_args_is_help=True,
)
app.add_typer(bench, name="bench")


def _version(show: bool) -> None:
    if show:
        typer.echo(f"pavm-net {version('pavm-net')}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """pavm-net command line."""


@bench.command("validate")
def bench_validate(
    workload: Annotated[
        str, typer.Option(help="Transactions to run: 'transfer' (ETH) or 'erc20' (token).")
    ] = "erc20",
    txs: Annotated[int, typer.Option(min=1, help="Transactions per block.")] = 300,
    conflict_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Fraction of transactions sent to one hot receiver."),
    ] = 0.0,
    workers: Annotated[int, typer.Option(min=1, help="Validation worker processes.")] = 2,
    blocks: Annotated[int, typer.Option(min=1, help="Consecutive blocks to validate.")] = 1,
    repeat: Annotated[int, typer.Option(min=1, help="Runs per measurement (median).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Serial py-evm vs recorded mining vs parallel validation, on the same blocks.

    Reports serial_s, record_s, parallel_s, speedup, recording_overhead, grouping_ms,
    state_root_ms, groups, largest_group, rwset_bytes, block_bytes, cores and
    roots_equal. Progress goes to stderr.
    """
    from loadtest.bench import as_dict, run_validate_bench

    try:
        result = run_validate_bench(workload, txs, conflict_rate, workers, blocks, repeat)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    data = as_dict(result)
    if as_json:
        typer.echo(json.dumps(data))
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        typer.echo(f"{key:<{width}}  {value}")
