"""The ``pavm`` command line: benchmarks, the process-mode testnet, load tests,
scenarios and dev accounts, one module per command group, registered here."""

from importlib.metadata import version
from typing import Annotated

import typer

from loadtest.cli.bench import bench
from loadtest.cli.listings import accounts, workloads
from loadtest.cli.loadtest import loadtest
from loadtest.cli.scenario import scenario
from loadtest.cli.testnet import testnet

app = typer.Typer(
    help="pavm-net: a PaVM testnet — recorded serial mining, grouped parallel validation.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench, name="bench")
app.add_typer(scenario, name="scenario")
app.add_typer(testnet, name="testnet")
app.command("workloads")(workloads)
app.command("accounts")(accounts)
app.command("loadtest")(loadtest)


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
