"""Vyper contracts of the workloads: sources in ``contracts/``, compiled artifacts in
``contracts/build/`` (committed, so nodes and benchmarks need no compiler).

``python -m loadtest.workloads.contracts`` recompiles every source with the pinned vyper and
rewrites the artifacts; a test checks that doing so reproduces the committed bytes.
"""

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_hash.auto import keccak

CONTRACTS = Path(__file__).parent / "contracts"
BUILD = CONTRACTS / "build"
VYPER_VERSION = "0.4.3"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes

    def deploy_data(self, *args: Any) -> bytes:
        """Creation code followed by the ABI-encoded constructor arguments."""
        ctor = next((e for e in self.abi if e.get("type") == "constructor"), None)
        types = [i["type"] for i in ctor["inputs"]] if ctor else []
        return self.bytecode + encode(types, list(args))

    def call_data(self, function: str, *args: Any) -> bytes:
        """Selector and ABI-encoded arguments of a call to ``function``."""
        entry = next(e for e in self.abi if e.get("type") == "function" and e["name"] == function)
        types = [i["type"] for i in entry["inputs"]]
        selector = keccak(f"{function}({','.join(types)})".encode())[:4]
        return bytes(selector) + encode(types, list(args))


def compile_source(name: str) -> dict[str, Any]:
    """Compile ``contracts/<name>.vy`` with the pinned vyper (a dev dependency)."""
    import vyper

    if vyper.__version__.split("+")[0] != VYPER_VERSION:
        raise RuntimeError(f"vyper {VYPER_VERSION} is pinned, found {vyper.__version__}")
    from vyper.compiler.input_bundle import FilesystemInputBundle

    source = (CONTRACTS / f"{name}.vy").read_text()
    out = vyper.compile_code(
        source,
        contract_path=f"{name}.vy",
        input_bundle=FilesystemInputBundle([CONTRACTS]),  # lib/ modules
        output_formats=["abi", "bytecode"],
    )
    return {"compiler": f"vyper-{VYPER_VERSION}", "abi": out["abi"], "bytecode": out["bytecode"]}


@cache
def load(name: str) -> Artifact:
    """The committed artifact of contract ``name``."""
    data = json.loads((BUILD / f"{name}.json").read_text())
    return Artifact(name, tuple(data["abi"]), bytes.fromhex(data["bytecode"].removeprefix("0x")))


def sources() -> list[str]:
    """Names of every contract source."""
    return sorted(p.stem for p in CONTRACTS.glob("*.vy"))


def main() -> None:
    for name in sources():
        target = BUILD / f"{name}.json"
        target.write_text(json.dumps(compile_source(name), indent=1, sort_keys=True) + "\n")
        print(f"compiled {name} -> {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
