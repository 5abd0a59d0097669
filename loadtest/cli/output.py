"""How every ``pavm`` command reports: the errors it expects, said plainly with an
exit code instead of a traceback, and its results as aligned ``key  value`` lines or
one JSON object."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import ValidationError


@contextmanager
def reported(*failures: type[Exception]) -> Iterator[None]:
    """Run the block; ``failures`` (what went wrong while running) end the command
    with ``error: ...`` on stderr and exit code 1, any other ValueError (what was asked
    cannot be done, as the options say it) as a usage error with exit code 2."""
    try:
        yield
    except failures as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except ValidationError as exc:
        raise typer.BadParameter(_by_option(exc)) from exc
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _by_option(exc: ValidationError) -> str:
    """``--block-txs: Input should be ...`` for each problem of settings built from
    options named after their fields."""
    return "; ".join(
        f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}"
        if error["loc"]
        else error["msg"]
        for error in exc.errors()
    )


def show(data: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or one aligned ``key  value`` line per field."""
    if as_json:
        typer.echo(json.dumps(data))
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        typer.echo(f"{key:<{width}}  {value}")
