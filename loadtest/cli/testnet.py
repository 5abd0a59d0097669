"""``pavm testnet``: the process-mode testnet on 127.0.0.1 started, watched and stopped,
and the containerised one's status."""

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from common.errors import PavmError
from loadtest.cli.options import BlockInterval, BlockTxs, TransportOption, Validators
from loadtest.cli.output import reported
from loadtest.testnet.settings import TestnetSettings

testnet = typer.Typer(
    help="A process-mode testnet on 127.0.0.1: one miner, N validators, Redis if asked.",
    no_args_is_help=True,
)

DataDir = Annotated[Path, typer.Option(help="Folder for node data, logs and testnet.json.")]


@testnet.command("up")
def testnet_up(
    validators: Validators = 3,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes per validator.")] = 2,
    strategy: Annotated[
        str,
        typer.Option(
            help="Validators' execution strategy: groups, declared, optimistic or serial "
            "(see python -m validator --help); a comma-separated list is dealt out in turn "
            "(groups,declared: validator 1 groups, 2 declared, 3 groups, ...).",
        ),
    ] = "groups",
    transport: TransportOption = "http",
    data_dir: DataDir = Path("testnet"),
    base_port: Annotated[int, typer.Option(help="Miner port; validator i on base+1+i.")] = 8545,
    block_txs: BlockTxs = 300,
    block_interval: BlockInterval = 2.0,
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
    from loadtest.testnet import process as net_mod

    with reported(PavmError):
        # Validated from the options as given: --strategy is a comma-separated list.
        settings = TestnetSettings.model_validate(
            {
                "validators": validators,
                "workers": workers,
                "strategy": strategy,
                "transport": transport,
                "base_port": base_port,
                "block_txs": block_txs,
                "block_interval": block_interval,
                "redis_url": redis_url,
                "redis_password_file": redis_password_file,
                "genesis": genesis,
                "gas_schedule": gas_schedule,
                "dev": dev,
            }
        )
        net = net_mod.up(data_dir, settings, progress=lambda line: typer.echo(line, err=True))
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
            head, health, verdicts = _cells(row)
            typer.echo(f"{row['name']:<22}{row['state']:<10}{head:>6}  {health:<8}{verdicts}")
        return
    with reported(PavmError):
        rows = net_mod.status(net_mod.Testnet.load(data_dir))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'node':<14}{'url':<26}{'alive':<7}{'head':>6}  {'health':<8}verdicts")
    for row in rows:
        head, health, verdicts = _cells(row)
        typer.echo(
            f"{row['name']:<14}{row['url']:<26}{'yes' if row['alive'] else 'no':<7}"
            f"{head:>6}  {'down' if not row['alive'] else health:<8}{verdicts}"
        )


def _cells(row: dict[str, Any]) -> tuple[str, str, str]:
    """A status row's head, health and verdicts as the table shows them (blank where
    the node has none: Redis, or a node that did not answer)."""
    head = "" if row.get("head") is None else str(row["head"])
    health = "" if "healthy" not in row else ("ok" if row["healthy"] else "syncing")
    verdicts = f"{row['agree']} agree / {row['reject']} reject" if "agree" in row else ""
    return head, health, verdicts


@testnet.command("down")
def testnet_down(data_dir: DataDir = Path("testnet")) -> None:
    """Stop every process the testnet in --data-dir started."""
    from loadtest.testnet import process as net_mod

    with reported(PavmError):
        stopped = net_mod.down(net_mod.Testnet.load(data_dir))
    typer.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
