"""Nodes run inside a test process, with nothing running on its own: the test decides
when a block is mined and which blocks a validator sees."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from common.chain.genesis import default_genesis
from common.net.service import server_config
from loadtest.testnet.process import free_base_port
from miner.app import create_app
from miner.node import MinerNode, MinerSettings
from validator.node import ValidatorNode, ValidatorSettings

MINER_KEY = b"\x07" * 32


def held_miner(data_dir: Path, **settings: Any) -> MinerNode:
    """A miner on the default genesis whose block loop is held back (one block an hour
    at most, however many transactions wait) and with no sub-call helpers: blocks come
    from ``mine_now`` or ``produce_block``. ``settings`` override the defaults."""
    defaults: dict[str, Any] = {
        "key": MINER_KEY,
        "genesis": default_genesis(),
        "block_txs": 10_000,
        "block_interval": 3600,
        "subcall_helpers": 0,
    }
    return MinerNode(MinerSettings(data_dir=data_dir, **{**defaults, **settings}))


def offline_validator(data_dir: Path, **settings: Any) -> ValidatorNode:
    """A validator of one worker, following ``MINER_KEY``'s address at a URL where
    nothing answers unless ``settings`` name a miner (the test feeds it blocks)."""
    defaults: dict[str, Any] = {
        "name": "v1",
        "genesis": default_genesis(),
        "miner_address": b"\x01" * 20,
        "miner_url": "http://127.0.0.1:9",
        "workers": 1,
        "key": b"\x02" * 32,
        "join_token": b"t" * 32,
    }
    return ValidatorNode(ValidatorSettings(data_dir=data_dir, **{**defaults, **settings}))


@contextmanager
def served(miner: MinerNode) -> Iterator[tuple[str, int, Any]]:
    """``miner``'s app under uvicorn on a free port of 127.0.0.1, with the limits the
    services run with (``server_config``), in a thread of this process: its URL, port
    and HTTP protocol class (whose limits a test may change)."""
    port = free_base_port(span=1)
    config = server_config(create_app(miner), "127.0.0.1", port, "warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the node did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", port, config.http
    finally:
        server.should_exit = True
        thread.join(10)
