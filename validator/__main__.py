"""``python -m validator``: run a validator service."""

import socket
from pathlib import Path
from typing import Annotated

import typer

from common.chain.genesis import load_genesis
from common.errors import PavmError
from common.net.keyfile import (
    load_or_create_key,
    parse_address,
    read_address,
    read_redis_password,
    read_token,
)
from common.net.service import (
    AllowedHostsOption,
    GasScheduleOption,
    HostOption,
    LogLevelOption,
    ReadTimeoutOption,
    RedisPasswordFileOption,
    RedisUrlOption,
    serve,
)
from common.net.transport import Transport
from validator.app import create_app
from validator.node import ValidatorNode, ValidatorSettings
from validator.strategies import Strategy

cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    miner_url: Annotated[str, typer.Option(help="The miner's HTTP URL.")] = "http://127.0.0.1:8545",
    name: Annotated[
        str | None, typer.Option(help="Name in verdicts (default: the hostname).")
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Where the chain store lives.")] = Path(
        "data/validator"
    ),
    genesis: Annotated[Path | None, typer.Option(help="Genesis JSON; must be the miner's.")] = None,
    miner_address: Annotated[
        str | None, typer.Option(help="The miner's address: only blocks it signed count.")
    ] = None,
    miner_address_file: Annotated[
        Path | None,
        typer.Option(help="...or the file the miner writes it to (its --address-file)."),
    ] = None,
    join_token_file: Annotated[
        Path | None,
        typer.Option(help="The network's join token (the miner's --join-token-file)."),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            help="This validator's verdict-signing key (default: DATA_DIR/validator.key, "
            "made at the first start, mode 0600)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, one per pinned core.")] = 2,
    strategy: Annotated[
        Strategy,
        typer.Option(
            help="How blocks are executed: groups (the miner's conflict groups), declared "
            "(every transaction at once from the declared writes), optimistic (no "
            "declarations: run, check, run again), serial (one worker). All accept the "
            "same blocks."
        ),
    ] = "groups",
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for block intake and JSON-RPC.")] = 8546,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="URL the miner reaches this validator at, registered at start: blocks are "
            "pushed there over HTTP and the miner's dashboard reads its reports there "
            "(omit: neither)."
        ),
    ] = None,
    transport: Annotated[Transport, typer.Option(help="How blocks come in.")] = "http",
    redis_url: RedisUrlOption = None,
    redis_password_file: RedisPasswordFileOption = None,
    gas_schedule: GasScheduleOption = None,
    poll_interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between checks of the miner's head.")
    ] = 2.0,
    log_level: LogLevelOption = "info",
    read_timeout: ReadTimeoutOption = 30.0,
    allowed_hosts: AllowedHostsOption = "",
) -> None:
    """A pavm-net validator: validates the miner's blocks on pinned worker processes."""

    def node() -> ValidatorNode:
        return ValidatorNode(
            ValidatorSettings(
                name=name or socket.gethostname(),
                data_dir=data_dir,
                genesis=load_genesis(genesis, gas_schedule),
                miner_address=_miner_address(miner_address, miner_address_file),
                miner_url=miner_url,
                workers=workers,
                strategy=strategy,
                transport=transport,
                redis_url=redis_url,
                redis_password=(
                    read_redis_password(redis_password_file) if redis_password_file else None
                ),
                public_url=public_url,
                poll_interval=poll_interval,
                key=load_or_create_key(key_file or data_dir / "validator.key"),
                join_token=_join_token(join_token_file),
            )
        )

    serve(node, create_app, host, port, log_level, read_timeout, allowed_hosts)


def _miner_address(address: str | None, path: Path | None) -> bytes:
    """The address blocks must be signed by: given, or read from the miner's file."""
    if (address is None) == (path is None):
        raise PavmError("give the miner's address: --miner-address or --miner-address-file")
    if address is not None:
        return parse_address(address, "--miner-address")
    assert path is not None
    return read_address(path)


def _join_token(path: Path | None) -> bytes:
    if path is None:
        raise PavmError("give the network's join token: --join-token-file")
    return read_token(path)


if __name__ == "__main__":
    cli()
