"""``python -m miner``: run the miner service."""

import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from common.errors import PavmError
from common.genesis import load_genesis
from common.keys import default_miner_key
from common.transport import TRANSPORTS
from miner.app import create_app
from miner.node import MinerNode, MinerSettings

cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    data_dir: Annotated[Path, typer.Option(help="Where the chain store lives.")] = Path(
        "data/miner"
    ),
    genesis: Annotated[
        Path | None, typer.Option(help="Genesis JSON (default: 10 dev accounts, chain 31337).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="Miner private key, hex (default: dev key #100).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for JSON-RPC and the block API.")] = 8545,
    block_txs: Annotated[
        int, typer.Option(min=1, help="Mine as soon as this many transactions wait.")
    ] = 300,
    block_interval: Annotated[
        float, typer.Option(min=0.01, help="Mine whatever waits after this many seconds.")
    ] = 2.0,
    peers: Annotated[
        str, typer.Option(help="Comma-separated validator URLs to push blocks to.")
    ] = "",
    transport: Annotated[str, typer.Option(help="Block broadcast: http, redis or both.")] = "http",
    redis_url: Annotated[
        str | None, typer.Option(help="Redis URL for the redis transport.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "info",
) -> None:
    """The pavm-net miner: Ethereum JSON-RPC on POST /, blocks on GET /blocks/{n}."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    if transport not in TRANSPORTS:
        raise typer.BadParameter(f"transport must be one of {', '.join(TRANSPORTS)}")
    try:
        settings = MinerSettings(
            data_dir=data_dir,
            key=bytes.fromhex(key.removeprefix("0x")) if key else default_miner_key(),
            genesis=load_genesis(genesis),
            block_txs=block_txs,
            block_interval=block_interval,
            peers=[p.strip().rstrip("/") for p in peers.split(",") if p.strip()],
            transport=transport,
            redis_url=redis_url,
        )
        node = MinerNode(settings)
    except (PavmError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    uvicorn.run(create_app(node), host=host, port=port, log_level=log_level.lower())


if __name__ == "__main__":
    cli()
