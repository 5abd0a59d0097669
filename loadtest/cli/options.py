"""Options that several ``pavm`` commands take, declared once so that they read the
same everywhere (each command still gives its own default)."""

from typing import Annotated

import typer

from common.net.transport import Transport
from loadtest.workloads.table import WORKLOADS

WORKLOAD_HELP = "One of: " + ", ".join(WORKLOADS) + "."

Validators = Annotated[int, typer.Option(min=1, help="Validator processes.")]
TransportOption = Annotated[Transport, typer.Option(help="How blocks travel.")]
BlockTxs = Annotated[int, typer.Option(min=1, help="Mine when this many wait.")]
BlockInterval = Annotated[float, typer.Option(help="...or after this many seconds.")]


def check_workload(workload: str) -> None:
    """Refuse an unknown workload before anything starts."""
    if workload not in WORKLOADS:
        raise typer.BadParameter(f"workload must be one of {', '.join(WORKLOADS)}")
