"""The gas of pavm's own additions to Prague, from a JSON file (the paper's interface
for administrators, section V).

``common/evm/pavm_gas.json`` is the default; a network may give its nodes another file
(``--gas-schedule``). The schedule is part of the chain's parameters, which the
genesis block commits to, so nodes started with different files have different
genesis hashes and refuse each other (invariant 8, docs/architecture.md)::

    {"forkJoin": {"base": 700, "perCall": 700, "coldTarget": 2500},
     "instructions": {"SUBSOL": 100, "SLEEP": 2, "REVERTT": 2, "AFTERW": 2,
                      "AFTERR": 2, "AFTERA": 2, "RR": 2, "RPHASH": 2,
                      "RDR": 0, "WTR": 0}}

``forkJoin`` prices the fork-join precompile (which a SUBSOL join calls as well);
``instructions`` gives each of the pavm fork's instructions (``common/evm/instructions.py``)
its constant cost, charged before what the instruction does costs by Prague's rules
(memory, and SLOAD's/SSTORE's gas for RDR/WTR).
"""

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import PavmError

DEFAULT_FILE = Path(__file__).with_name("pavm_gas.json")
_FIELDS = {"base": "base", "perCall": "per_call", "coldTarget": "cold_target"}
INSTRUCTIONS = (
    "SUBSOL",
    "SLEEP",
    "REVERTT",
    "AFTERW",
    "AFTERR",
    "AFTERA",
    "RR",
    "RPHASH",
    "RDR",
    "WTR",
)
"""The pavm fork's instructions, in the paper's order (Table II)."""


def _gas(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
        raise PavmError(f"{where} must be an integer in [0, 2**32)")
    return value


def _object(data: Any, keys: Collection[str], where: str) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != set(keys):
        raise PavmError(f"{where} needs exactly {', '.join(keys)}")
    return data


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
        data = _object(data, _FIELDS, f"{where}: forkJoin")
        values = {
            name: _gas(data[key], f"{where}: forkJoin.{key}") for key, name in _FIELDS.items()
        }
        return cls(**values)


@dataclass(frozen=True, slots=True)
class GasSchedule:
    """The whole file: the precompile's gas and each instruction's constant cost."""

    fork_join: ForkJoinGas
    instructions: tuple[int, ...]
    """Cost of each instruction of :data:`INSTRUCTIONS`, in that order."""

    def instruction(self, name: str) -> int:
        """The constant cost of the instruction called ``name``."""
        return self.instructions[INSTRUCTIONS.index(name)]

    def numbers(self) -> list[int]:
        """Every figure, in a fixed order (what the genesis commits to)."""
        gas = self.fork_join
        return [gas.base, gas.per_call, gas.cold_target, *self.instructions]

    def to_json(self) -> dict[str, Any]:
        return {
            "forkJoin": self.fork_join.to_json(),
            "instructions": dict(zip(INSTRUCTIONS, self.instructions, strict=True)),
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "gas schedule") -> "GasSchedule":
        """Parse the file's content; ``PavmError`` naming the first bad field."""
        data = _object(data, ("forkJoin", "instructions"), f"{where}: the top level")
        costs = _object(data["instructions"], INSTRUCTIONS, f"{where}: instructions")
        return cls(
            ForkJoinGas.from_json(data["forkJoin"], where),
            tuple(_gas(costs[name], f"{where}: instructions.{name}") for name in INSTRUCTIONS),
        )


def load_gas_schedule(path: Path | None = None) -> GasSchedule:
    """The schedule in ``path`` (the default file when ``None``)."""
    path = DEFAULT_FILE if path is None else Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PavmError(f"gas schedule {path} does not exist") from None
    except ValueError as exc:
        raise PavmError(f"gas schedule {path} is not valid JSON: {exc}") from None
    return GasSchedule.from_json(data, f"gas schedule {path}")


DEFAULT_GAS = load_gas_schedule()
