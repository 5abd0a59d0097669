"""``pavm bench``: serial py-evm against pavm's parallel validation, from one block to
the paper's whole evaluation and a live testnet."""

import json
from pathlib import Path
from typing import Annotated

import typer

from common.errors import PavmError
from loadtest.cli.options import (
    WORKLOAD_HELP,
    BlockInterval,
    BlockTxs,
    TransportOption,
    Validators,
    check_workload,
)
from loadtest.cli.output import reported, show
from loadtest.testnet.settings import TestnetSettings

bench = typer.Typer(
    help="Measure serial py-evm against pavm's parallel validation (JSON with --json).",
    no_args_is_help=True,
)


@bench.command("validate")
def bench_validate(
    workload: Annotated[str, typer.Option(help=WORKLOAD_HELP)] = "erc20",
    txs: Annotated[int, typer.Option(min=1, help="Transactions per block.")] = 300,
    conflict_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Fraction of transactions sent to one hot receiver."),
    ] = 0.0,
    workers: Annotated[int, typer.Option(min=1, help="Validation worker processes.")] = 2,
    blocks: Annotated[int, typer.Option(min=1, help="Consecutive blocks to validate.")] = 1,
    repeat: Annotated[int, typer.Option(min=1, help="Runs per measurement (median).")] = 3,
    scale: Annotated[
        int | None, typer.Option(min=0, help="Workload scale (default: see pavm workloads).")
    ] = None,
    threads: Annotated[
        int,
        typer.Option(
            min=0,
            max=16,
            help="0: serial contracts; T: intra workloads call their parallel version "
            "with T sub-calls per transaction.",
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Serial py-evm vs recorded mining vs parallel validation, on the same blocks.

    Reports serial_s, record_s, parallel_s, speedup, recording_overhead, grouping_ms,
    state_root_ms, groups, largest_group, rwset_bytes, block_bytes, cores,
    roots_equal, and which parallelism the parallel run used (inter, intra, both)
    with the sub-calls lent to idle workers. With --threads, py-evm runs the same
    blocks, each fork-join in its serial definition. A block of fewer transactions
    than workers (--txs 1 --threads 2) measures intra-contract parallelism alone.
    Progress goes to stderr.
    """
    from loadtest.bench.validate import as_dict, run_validate_bench

    with reported():
        result = run_validate_bench(
            workload, txs, conflict_rate, workers, blocks, repeat, scale, threads
        )
    show(as_dict(result), as_json)


@bench.command("strategies")
def bench_strategies(
    workload: Annotated[str, typer.Option(help=WORKLOAD_HELP)] = "erc20",
    hot_ratio: Annotated[
        str,
        typer.Option(help="Comma-separated shares of transactions sent to one hot receiver."),
    ] = "0,0.1,0.3,0.5,0.9",
    workers: Annotated[str, typer.Option(help="Comma-separated worker counts.")] = "1,2",
    txs: Annotated[int, typer.Option(min=1, help="Transactions per block.")] = 300,
    repeat: Annotated[int, typer.Option(min=1, help="Runs per measurement (median).")] = 3,
    scale: Annotated[
        int | None, typer.Option(min=0, help="Workload scale (default: see pavm workloads).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Write results.json, strategies.md (table) and strategies.png here."),
    ] = None,
) -> None:
    """The four validation strategies (groups, declared, optimistic, serial) on the
    same blocks, one per hot ratio: end-to-end validation time, speedup over py-evm,
    per-core utilisation, re-executions and wasted CPU, bytes of declarations, and a
    labelled projection to 8, 16 and 40 cores from the measured per-transaction times.
    Progress goes to stderr."""
    from loadtest.bench.strategies import as_dict, run_strategies_bench, table, write

    try:
        ratios = tuple(float(x) for x in hot_ratio.split(",") if x.strip())
        counts = tuple(int(x) for x in workers.split(",") if x.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"numbers separated by commas: {exc}") from exc
    with reported():
        result = run_strategies_bench(workload, ratios, counts, txs, repeat, scale)
    if out is not None:
        for name, path in write(result, out).items():
            typer.echo(f"{name}: {path}", err=True)
    if as_json:
        typer.echo(json.dumps(as_dict(result)))
    else:
        typer.echo(table(result))


@bench.command("intra")
def bench_intra(
    workload: Annotated[
        str, typer.Option(help="matrixmul, matrixadd, substring or histogram.")
    ] = "matrixmul",
    scale: Annotated[
        int | None, typer.Option(min=1, help="Workload scale (default: its largest intra scale).")
    ] = None,
    threads: Annotated[
        int, typer.Option(min=1, max=16, help="Threads the parallel contract splits into.")
    ] = 2,
    workers: Annotated[int, typer.Option(min=1, help="Validation worker processes.")] = 2,
    repeat: Annotated[int, typer.Option(min=1, help="Runs per measurement (median).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON to this file.")] = None,
) -> None:
    """One large transaction: unmodified py-evm on the serial contract vs pavm's
    validator on the parallel contract, whose parts run as fork-join sub-calls on idle
    workers (the paper's Fig. 15).

    Reports serial_s, pavm_s, pavm_one_worker_s, speedup, machine_scaling (a control
    loop on the same cores, same run), efficiency, per-core utilisation, sub-calls
    lent, gas of both, and whether results and state roots agree. Progress goes to
    stderr.
    """
    from loadtest.bench.intra import as_dict, run_intra_bench

    with reported():
        result = run_intra_bench(workload, scale, threads, workers, repeat)
    data = as_dict(result)
    if out is not None:
        out.write_text(json.dumps(data, indent=1) + "\n")
    show(data, as_json)


@bench.command("paper")
def bench_paper(
    quick: Annotated[
        bool, typer.Option("--quick", help="Two small scales per workload, one timing each.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder for report.md, PNGs, results.json.")] = Path(
        "paper-results"
    ),
    txs: Annotated[
        int, typer.Option(min=1, help="Transactions per block (the paper's 300).")
    ] = 300,
    repeat: Annotated[
        int | None, typer.Option(min=1, help="Timings per point (default: 1 quick, 3 full).")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON object: settings, mean speedup per figure, files."
        ),
    ] = False,
) -> None:
    """Reproduce the paper's evaluation (Figs. 14, 16, 17a-d, 18, 19, 20) on this machine.

    Serial unmodified py-evm against parallel validation on the same blocks; writes
    report.md (with the paper's numbers and the speedup per core), one PNG per figure
    and results.json. --quick takes a few minutes on 2 cores; a full run shows an ETA.
    Exits 1 if any state root disagreed.
    """
    from loadtest.bench.paper.run import run_paper_bench

    with reported(ValueError, RuntimeError):
        result = run_paper_bench(out, quick, txs, repeat)
    if as_json:
        typer.echo(json.dumps(result.summary))
    else:
        typer.echo(f"report: {result.files['report']}")
        for name, path in result.files.items():
            if name != "report":
                typer.echo(f"  {name}: {path}")
    if not result.all_roots_equal:
        typer.echo("error: some state roots disagreed (see results.json runs)", err=True)
        raise typer.Exit(1)


@bench.command("network")
def bench_network(
    workload: Annotated[str, typer.Option(help=WORKLOAD_HELP)] = "erc20",
    txs: Annotated[int, typer.Option(min=1, max=20_000, help="Transactions to send.")] = 300,
    validators: Validators = 3,
    workers: Annotated[int, typer.Option(min=1, help="Workers per validator.")] = 2,
    transport: TransportOption = "http",
    block_txs: BlockTxs = 300,
    block_interval: BlockInterval = 1.0,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the testnet's data here (default: a temp dir).")
    ] = None,
    compose: Annotated[
        bool, typer.Option("--compose", help="Use the containerised testnet instead.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Drive a process-mode (or, with --compose, containerised) testnet over JSON-RPC:
    throughput from mined blocks, latency p50/p95/p99, per-validator validation time and
    speedup over py-evm, agreement; with --compose also CPU and memory per container."""
    from loadtest.bench.network import as_dict, run_network_bench

    check_workload(workload)
    with reported(PavmError, RuntimeError):
        settings = TestnetSettings(
            validators=validators,
            workers=workers,
            transport=transport,
            block_txs=block_txs,
            block_interval=block_interval,
        )
        result = run_network_bench(workload, txs, settings, data_dir, compose)
    show(as_dict(result), as_json)
