"""One exception hierarchy for the engine; services turn these into HTTP/JSON-RPC errors."""

from dataclasses import dataclass


class PavmError(Exception):
    """Base of every error this project raises on purpose."""


@dataclass
class InvalidTransaction(PavmError):
    """Thrown when a transaction cannot be included in a block (the miner skips it)."""

    reason: str

    def __str__(self) -> str:
        return self.reason


class TransactionDeferred(InvalidTransaction):
    """Thrown when a valid transaction cannot go into this block but may go into a later
    one: no gas room left, or a fee cap below this block's base fee. The miner keeps it
    in the pool (as go-ethereum does) instead of dropping it."""


@dataclass
class InvalidBlock(PavmError):
    """Thrown when a validator rejects a block.

    ``reason`` is a short stable identifier (``bad_signature``, ``rwset_mismatch``, ...)
    that metrics and tests match on; ``detail`` says what differed, naming the first
    offending transaction and state key where there is one.
    """

    reason: str
    detail: str
    tx_index: int | None = None
    after_execution: bool = False
    """Raised once the block's transactions had run (by a strategy that the serial
    one then double-checks, ``validator/validate.py``)."""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class WorkerFailure(PavmError):
    """Thrown when a validation worker died twice on the same block."""


class StoreCorrupted(PavmError):
    """Thrown when the chain store is damaged: its file is shorter than its own index
    says, or a stored block no longer hashes to the checksum written with it."""
