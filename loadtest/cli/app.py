"""The ``pavm`` command line: benchmarks, the process-mode testnet, dev accounts."""

import json
import time
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from common.net.transport import Transport
from loadtest.cli.scenario import scenario
from loadtest.workloads.table import WORKLOADS
from validator.strategies import STRATEGIES, Strategy

WORKLOAD_HELP = "One of: " + ", ".join(WORKLOADS) + "."

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
app.add_typer(scenario, name="scenario")


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

    try:
        result = run_validate_bench(
            workload, txs, conflict_rate, workers, blocks, repeat, scale, threads
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _show(as_dict(result), as_json)


def _strategies(given: str) -> list[Strategy]:
    names = [name.strip() for name in given.split(",") if name.strip()]
    bad = [name for name in names if name not in STRATEGIES]
    if bad or not names:
        raise typer.BadParameter(
            f"strategies are {', '.join(STRATEGIES)}; got {given!r}", param_hint="--strategy"
        )
    return cast(list[Strategy], names)


def _show(data: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or one aligned ``key  value`` line per field."""
    if as_json:
        typer.echo(json.dumps(data))
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        typer.echo(f"{key:<{width}}  {value}")


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
    try:
        result = run_strategies_bench(workload, ratios, counts, txs, repeat, scale)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
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

    try:
        result = run_intra_bench(workload, scale, threads, workers, repeat)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    data = as_dict(result)
    if out is not None:
        out.write_text(json.dumps(data, indent=1) + "\n")
    _show(data, as_json)


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

    try:
        result = run_paper_bench(out, quick, txs, repeat)
    except (ValueError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
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


testnet = typer.Typer(
    help="A process-mode testnet on 127.0.0.1: one miner, N validators, Redis if asked.",
    no_args_is_help=True,
)
app.add_typer(testnet, name="testnet")
DataDir = Annotated[Path, typer.Option(help="Folder for node data, logs and testnet.json.")]


@testnet.command("up")
def testnet_up(
    validators: Annotated[int, typer.Option(min=1, help="Validator processes.")] = 3,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes per validator.")] = 2,
    strategy: Annotated[
        str,
        typer.Option(
            help="Validators' execution strategy: groups, declared, optimistic or serial "
            "(see python -m validator --help); a comma-separated list is dealt out in turn "
            "(groups,declared: validator 1 groups, 2 declared, 3 groups, ...).",
        ),
    ] = "groups",
    transport: Annotated[Transport, typer.Option(help="How blocks travel.")] = "http",
    data_dir: DataDir = Path("testnet"),
    base_port: Annotated[int, typer.Option(help="Miner port; validator i on base+1+i.")] = 8545,
    block_txs: Annotated[int, typer.Option(min=1, help="Mine when this many wait.")] = 300,
    block_interval: Annotated[float, typer.Option(help="...or after this many seconds.")] = 2.0,
    redis_url: Annotated[
        str | None, typer.Option(help="Use this Redis instead of starting redis-server.")
    ] = None,
    redis_password_file: Annotated[
        Path | None,
        typer.Option(help="File (mode 0600) with the password of the --redis-url Redis."),
    ] = None,
    genesis: Annotated[Path | None, typer.Option(help="Genesis JSON for every node.")] = None,
    gas_schedule: Annotated[
        Path | None,
        typer.Option(help="Gas schedule JSON for every node (see python -m miner --help)."),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Return once healthy; stop with pavm testnet down.")
    ] = False,
    dev: Annotated[
        bool,
        typer.Option(
            help="A dev network: eth_accounts, eth_sendTransaction and eth_sign* for the "
            "development accounts, evm_mine and the other evm_* mining methods.",
        ),
    ] = True,
) -> None:
    """Start the testnet, print the RPC URLs, then show a live status line until Ctrl-C."""
    from common.errors import PavmError
    from loadtest.testnet import process as net_mod

    try:
        net = net_mod.up(
            data_dir,
            validators,
            workers,
            transport,
            base_port,
            block_txs,
            block_interval,
            redis_url,
            genesis,
            progress=lambda line: typer.echo(line, err=True),
            redis_password_file=redis_password_file,
            gas_schedule=gas_schedule,
            strategies=_strategies(strategy),
            dev=dev,
        )
    except PavmError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"JSON-RPC: {net.miner.url}  (validators: {', '.join(v.url for v in net.validators)})"
    )
    typer.echo(f"dashboard: {net.miner.url}/dashboard")
    if detach:
        return
    try:
        _live_status(net)
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo("\nstopping...", err=True)
        net_mod.down(net)


def _live_status(net: Any) -> None:
    """One status line, redrawn every second: head, tx/s over the last 10 s (counted from
    blocks mined since the line started) and the verdicts on the newest block."""
    from common.rpc.client import RpcClient

    seen: int | None = None
    window: list[tuple[float, int]] = []
    with RpcClient(net.miner.url, timeout=5) as miner:
        while True:
            try:
                head = int(miner.call("eth_blockNumber"), 16)
                first = head + 1 if seen is None else seen + 1
                counts = miner.batch(
                    [
                        ("eth_getBlockTransactionCountByNumber", [hex(n)])
                        for n in range(first, head + 1)
                    ]
                )
                window.extend((time.monotonic(), int(count, 16)) for count in counts)
                verdicts = miner.call("pavm_getVerdicts", [hex(head)]) if head else []
                agree = sum(1 for v in verdicts if v["agree"])
                reject = len(verdicts) - agree
                seen = head
            except Exception as exc:  # noqa: BLE001 - a status line must survive anything
                typer.echo(f"\rstatus unavailable: {exc}".ljust(100), nl=False, err=True)
                time.sleep(1)
                continue
            now = time.monotonic()
            window = [(t, n) for t, n in window if now - t <= 10]
            rate = sum(n for _, n in window) / 10
            line = (
                f"head {head}  tx/s {rate:.1f}  last block: {agree} agree, {reject} reject "
                f"of {len(net.validators)} validators"
            )
            typer.echo("\r" + line.ljust(100), nl=False, err=True)
            time.sleep(1)


@testnet.command("status")
def testnet_status(
    data_dir: DataDir = Path("testnet"),
    compose: Annotated[
        bool, typer.Option("--compose", help="The containerised testnet (docker-compose.yml).")
    ] = False,
    project: Annotated[
        str | None, typer.Option(help="Compose project (default: COMPOSE_PROJECT_NAME or pavm).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """A table of nodes: liveness, head, health and verdicts over the last 20 blocks."""
    from common.errors import PavmError
    from loadtest.testnet import process as net_mod

    if compose:
        from loadtest.testnet import compose as compose_mod

        rows = compose_mod.status(project)
        if as_json:
            typer.echo(json.dumps(rows))
            return
        if not rows:
            typer.echo("no containers of this compose project are running", err=True)
            raise typer.Exit(1)
        typer.echo(f"{'container':<22}{'state':<10}{'head':>6}  {'health':<8}verdicts")
        for row in rows:
            verdicts = f"{row['agree']} agree / {row['reject']} reject" if "agree" in row else ""
            health = "" if "healthy" not in row else ("ok" if row["healthy"] else "syncing")
            head = "" if row.get("head") is None else row["head"]
            typer.echo(f"{row['name']:<22}{row['state']:<10}{head!s:>6}  {health:<8}{verdicts}")
        return
    try:
        rows = net_mod.status(net_mod.Testnet.load(data_dir))
    except PavmError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'node':<14}{'url':<26}{'alive':<7}{'head':>6}  {'health':<8}verdicts")
    for row in rows:
        verdicts = f"{row['agree']} agree / {row['reject']} reject" if "agree" in row else ""
        if not row["alive"]:
            health = "down"
        else:
            health = "" if "healthy" not in row else ("ok" if row["healthy"] else "syncing")
        head = "" if row.get("head") is None else row["head"]
        typer.echo(
            f"{row['name']:<14}{row['url']:<26}{'yes' if row['alive'] else 'no':<7}"
            f"{head!s:>6}  {health:<8}{verdicts}"
        )


@testnet.command("down")
def testnet_down(data_dir: DataDir = Path("testnet")) -> None:
    """Stop every process the testnet in --data-dir started."""
    from common.errors import PavmError
    from loadtest.testnet import process as net_mod

    try:
        stopped = net_mod.down(net_mod.Testnet.load(data_dir))
    except PavmError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command("workloads")
def workloads() -> None:
    """The paper's workloads: what each transaction calls, its scale knob and scales."""
    typer.echo(f"{'workload':<20}{'kind':<7}{'scale knob':<24}{'quick':<10}{'full (default)'}")
    for spec in WORKLOADS.values():
        quick = ", ".join(map(str, spec.quick_scales)) if spec.scale_label != "-" else "-"
        full = "-"
        if spec.scale_label != "-":
            full = f"{', '.join(map(str, spec.scales))} ({spec.default_scale})"
        typer.echo(f"{spec.name:<20}{spec.parallelism:<7}{spec.scale_label:<24}{quick:<10}{full}")


@app.command("accounts")
def accounts(
    count: Annotated[int, typer.Option(min=1, max=1000, help="How many accounts.")] = 10,
) -> None:
    """The prefunded development accounts (mnemonic 'test ... junk') and their keys."""
    from common.chain.accounts import DEV_MNEMONIC, dev_accounts

    typer.echo(f"mnemonic: {DEV_MNEMONIC}")
    for index, account in enumerate(dev_accounts(count)):
        funded = " (1,000,000 ETH at genesis)" if index < 10 else ""
        typer.echo(f"{index:>3}  0x{account.address.hex()}  0x{account.key.hex()}{funded}")
    typer.echo("(the miner signs with its own key, made at its first start: not one of these)")


@bench.command("network")
def bench_network(
    workload: Annotated[str, typer.Option(help=WORKLOAD_HELP)] = "erc20",
    txs: Annotated[int, typer.Option(min=1, max=20_000, help="Transactions to send.")] = 300,
    validators: Annotated[int, typer.Option(min=1, help="Validator processes.")] = 3,
    workers: Annotated[int, typer.Option(min=1, help="Workers per validator.")] = 2,
    transport: Annotated[Transport, typer.Option(help="How blocks travel.")] = "http",
    block_txs: Annotated[int, typer.Option(min=1, help="Mine when this many wait.")] = 300,
    block_interval: Annotated[float, typer.Option(help="...or after this many seconds.")] = 1.0,
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
    from common.errors import PavmError
    from loadtest.bench.network import as_dict, run_network_bench

    if workload not in WORKLOADS:
        raise typer.BadParameter(f"workload must be one of {', '.join(WORKLOADS)}")
    try:
        result = run_network_bench(
            workload,
            txs,
            validators,
            workers,
            transport,
            block_txs,
            block_interval,
            data_dir,
            compose,
        )
    except (PavmError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    data = as_dict(result)
    if as_json:
        typer.echo(json.dumps(data))
        return
    for key, value in data.items():
        typer.echo(f"{key:<22}  {value}")


@app.command("loadtest")
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

    if workload not in WORKLOADS:
        raise typer.BadParameter(f"workload must be one of {', '.join(WORKLOADS)}")
    folder = out or Path("loadtest-results") / time.strftime("%Y%m%d-%H%M%S")
    try:
        load = LocustLoad(
            users, spawn_rate, run_time, workload, conflict_rate, scale, accounts_per_user, tx_wait
        )
        summary = run_loadtest(target, load, folder)
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    path = write_summary(summary, folder)
    data = as_dict(summary)
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for key, value in data.items():
            typer.echo(f"{key:<20}  {value}")
        typer.echo(f"reports in {folder}/ (summary: {path.name}, locust.html, locust_*.csv)")
    failed = (
        summary.locust_exit_code != 0
        or summary.reverted
        or summary.not_mined
        or summary.verdicts_reject
    )
    if failed:
        raise typer.Exit(1)
