"""What a testnet is: its validators, their workers and strategies, how blocks travel,
when the miner seals, and what every node starts from.

One type for ``pavm testnet up``, the process-mode launcher, ``pavm bench network``
and a scenario's ``network:`` section, so a setting and its bounds are declared and
checked in one place; each of them keeps only its own defaults.
"""

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from common.net.transport import Transport
from validator.strategies import Strategy

Validators = Annotated[int, Field(ge=0, le=100)]
"""Validator processes (or containers) besides the miner."""
Workers = Annotated[int, Field(ge=1, le=64)]
"""Worker processes per validator."""


def _listed(value: object) -> object:
    """``groups,declared`` (the CLI's and a scenario's spelling) as a list of names."""
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


class TestnetSettings(BaseModel):
    """A testnet to start: checked whole when built, fixed afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    __test__ = False  # not a pytest test class, whatever its name

    validators: Validators = 3
    workers: Workers = 2
    transport: Transport = "http"
    """How blocks travel from the miner to the validators."""
    strategy: Annotated[tuple[Strategy, ...], BeforeValidator(_listed), Field(min_length=1)] = (
        "groups",
    )
    """The validators' execution strategies, dealt out in turn: validator i runs
    ``strategy[i % len(strategy)]``."""
    block_txs: Annotated[int, Field(ge=1, le=10_000)] = 300
    """The miner seals when this many transactions wait..."""
    block_interval: Annotated[float, Field(gt=0, le=600)] = 2.0
    """...or after this many seconds."""
    base_port: Annotated[int, Field(ge=1, le=64_000)] = 8545
    """The miner's port; validator i listens on ``base_port + 1 + i``, a started Redis
    on ``base_port + 1000``."""
    redis_url: str | None = None
    """A Redis to use instead of starting ``redis-server`` (Redis transports)."""
    redis_password_file: Path | None = None
    """The password of the ``redis_url`` Redis (a file of mode 0600)."""
    genesis: Path | None = None
    """Genesis JSON for every node (default: the development accounts funded)."""
    gas_schedule: Path | None = None
    """Gas schedule JSON for every node."""
    dev: bool = True
    """Serve the miner's development conveniences (``miner/dev.py``)."""
    validator_args: tuple[str, ...] = ()
    """Further command-line options for every validator."""

    def strategy_of(self, index: int) -> Strategy:
        """The strategy of validator ``index`` (from 0)."""
        return self.strategy[index % len(self.strategy)]
