"""Nodes run inside a test process, with nothing running on its own: the test decides
when a block is mined and which blocks a validator sees."""

from pathlib import Path
from typing import Any

from common.chain.genesis import default_genesis
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
