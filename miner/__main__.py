"""``python -m miner``: run the miner service."""

from pathlib import Path
from typing import Annotated

import typer

from common.chain.genesis import load_genesis
from common.net.keyfile import (
    load_or_create_key,
    load_or_create_token,
    read_redis_password,
    write_address,
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
    key_file: Annotated[
        Path | None,
        typer.Option(
            help="The miner's signing key, hex, mode 0600 (default: DATA_DIR/miner.key, "
            "made at the first start). Never given on the command line."
        ),
    ] = None,
    join_token_file: Annotated[
        Path | None,
        typer.Option(
            help="The network's join token, which validators must prove to register "
            "(default: DATA_DIR/join.token, made at the first start, mode 0600)."
        ),
    ] = None,
    address_file: Annotated[
        Path | None,
        typer.Option(help="Write the miner's address here for validators (--miner-address-file)."),
    ] = None,
    host: HostOption = "127.0.0.1",
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
    transport: Annotated[Transport, typer.Option(help="How blocks are broadcast.")] = "http",
    redis_url: RedisUrlOption = None,
    redis_password_file: RedisPasswordFileOption = None,
    gas_schedule: GasScheduleOption = None,
    log_level: LogLevelOption = "info",
    read_timeout: ReadTimeoutOption = 30.0,
    allowed_hosts: AllowedHostsOption = "",
    dev: Annotated[
        bool,
        typer.Option(
            help="A dev network: eth_accounts, eth_sendTransaction, eth_sign, "
            "eth_signTransaction and eth_signTypedData_v4 sign for the funded development "
            "accounts (their keys are public), and evm_mine, evm_setAutomine, "
            "evm_setIntervalMining, evm_increaseTime and evm_setNextBlockTimestamp steer "
            "mining. Off by default; pavm testnet up and compose turn it on.",
        ),
    ] = False,
    subcall_helpers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Processes that speculate a transaction's sub-calls while the builder "
            "runs it (default: the cores this process may use, minus one; 0: serially).",
        ),
    ] = None,
) -> None:
    """The pavm-net miner: Ethereum JSON-RPC on POST /, blocks on GET /blocks/{n}."""

    def node() -> MinerNode:
        key = load_or_create_key(key_file or data_dir / "miner.key")
        if address_file is not None:
            write_address(address_file, key)
        return MinerNode(
            MinerSettings(
                data_dir=data_dir,
                key=key,
                genesis=load_genesis(genesis, gas_schedule),
                block_txs=block_txs,
                block_interval=block_interval,
                peers=[p.strip().rstrip("/") for p in peers.split(",") if p.strip()],
                transport=transport,
                redis_url=redis_url,
                redis_password=(
                    read_redis_password(redis_password_file) if redis_password_file else None
                ),
                join_token=load_or_create_token(join_token_file or data_dir / "join.token"),
                subcall_helpers=subcall_helpers,
                dev=dev,
            )
        )

    serve(node, create_app, host, port, log_level, read_timeout, allowed_hosts)


if __name__ == "__main__":
    cli()
