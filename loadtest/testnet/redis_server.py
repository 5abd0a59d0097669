"""The testnet's Redis, with a password of its own.

Blocks and verdicts on Redis are signed, so a stranger there cannot speak for a node;
but without a password anyone who reaches Redis could make every node check junk,
stop the transport (``SHUTDOWN``) or reconfigure it. So the launcher (process mode)
and the compose ``redis`` service both start ``redis-server`` through this module:
the password is made once, 32 random bytes in a mode-0600 file the nodes read
(``--redis-password-file``), and goes to Redis in a mode-0600 configuration file,
never on a command line.

``python -m loadtest.testnet.redis_server --help`` is what compose runs.
"""

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from common.errors import PavmError
from common.net.keyfile import load_or_create_token


def write_config(config: Path, password_file: Path, port: int, bind: str) -> Path:
    """Write a Redis configuration to ``config`` (mode 0600): listening on ``bind``,
    no persistence (blocks live in the nodes' stores) and the password in
    ``password_file`` (made there at the first start) required of every client."""
    password = load_or_create_token(password_file, "Redis password").hex()
    config.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(handle, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(
            f"port {port}\nbind {bind}\nprotected-mode no\n"
            f'save ""\nappendonly no\nrequirepass {password}\n'
        )
    return config


def server_command(config: Path) -> list[str]:
    """How to run ``redis-server`` from PATH on ``config``."""
    server = shutil.which("redis-server")
    if server is None:
        raise PavmError("the redis transport needs redis-server on PATH or --redis-url")
    return [server, str(config)]


cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    password_file: Annotated[
        Path, typer.Option(help="The password file (made here at the first start, mode 0600).")
    ],
    config: Annotated[
        Path, typer.Option(help="Where to write the configuration (mode 0600).")
    ] = Path("/tmp/pavm-redis.conf"),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 6379,
    bind: Annotated[str, typer.Option(help="Addresses to listen on.")] = "127.0.0.1",
) -> None:
    """Run redis-server (in place of this process) with the testnet's password."""
    command = server_command(write_config(config, password_file, port, bind))
    os.execv(command[0], command)


if __name__ == "__main__":
    cli()
