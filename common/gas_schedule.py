"""The gas of pavm's own additions to Prague, from a JSON file (the paper's interface
for administrators, section V).

``common/pavm_gas.json`` is the default; a network may give its nodes another file
(``--gas-schedule``). The schedule is part of the chain's parameters, which the
genesis block commits to, so nodes started with different files have different
genesis hashes and refuse each other (invariant 8, docs/architecture.md)::

    {"forkJoin": {"base": 700, "perCall": 700, "coldTarget": 2500}}
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import PavmError

DEFAULT_FILE = Path(__file__).with_name("pavm_gas.json")
_FIELDS = {"base": "base", "perCall": "per_call", "coldTarget": "cold_target"}


@dataclass(frozen=True, slots=True)
class ForkJoinGas:
    """What the fork-join precompile costs before its sub-calls' own gas."""

    base: int
    per_call: int
    cold_target: int
    """Per distinct target not yet warm (EIP-2929's cold surcharge by default)."""

    def to_json(self) -> dict[str, int]:
        return {key: getattr(self, name) for key, name in _FIELDS.items()}

    @classmethod
    def from_json(cls, data: Any, where: str = "gas schedule") -> "ForkJoinGas":
        """Parse ``{"base": .., "perCall": .., "coldTarget": ..}``; ``PavmError`` naming
        the first bad field."""
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise PavmError(f"{where}: forkJoin needs exactly {', '.join(_FIELDS)}")
        values = {}
        for key, name in _FIELDS.items():
            value = data[key]
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
                raise PavmError(f"{where}: forkJoin.{key} must be an integer in [0, 2**32)")
            values[name] = value
        return cls(**values)


def load_gas_schedule(path: Path | None = None) -> ForkJoinGas:
    """The schedule in ``path`` (the default file when ``None``)."""
    path = DEFAULT_FILE if path is None else Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PavmError(f"gas schedule {path} does not exist") from None
    except ValueError as exc:
        raise PavmError(f"gas schedule {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"forkJoin"}:
        raise PavmError(f'gas schedule {path}: the top level is {{"forkJoin": {{...}}}}')
    return ForkJoinGas.from_json(data["forkJoin"], f"gas schedule {path}")


DEFAULT_FORK_JOIN = load_gas_schedule()
