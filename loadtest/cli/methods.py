"""README's list of JSON-RPC methods, generated from the nodes' own method tables so
the list can never drift from what is served.

    python -m loadtest.cli.methods           print the list
    python -m loadtest.cli.methods --write   rewrite it in README.md, between its markers
"""

import sys
import tempfile
import threading
from pathlib import Path

from common.genesis import GenesisSpec
from common.state import ChainConfig
from miner.app import rpc_methods
from miner.node import MinerNode, MinerSettings
from validator.app import rpc_api

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- methods:begin -->", "<!-- methods:end -->"
NAMESPACES = ("web3", "net", "eth", "txpool", "debug", "evm", "pavm")


def served() -> tuple[list[str], list[str]]:
    """(the miner's, a validator's) method names, from nodes over a scratch chain."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = MinerSettings(
            data_dir=Path(scratch), key=b"\x01" * 32, genesis=GenesisSpec(ChainConfig(), {})
        )
        node = MinerNode(settings)
        try:
            _, miner = rpc_methods(node)
            validator = rpc_api(node.store, threading.RLock(), dict).methods()
            return sorted(miner), sorted(validator)
        finally:
            node.stop()


def markdown() -> str:
    """The list as README shows it: one line per namespace, validator-less ones marked."""
    miner, validator = served()
    lines = []
    for namespace in NAMESPACES:
        names = [m for m in miner if m.split("_", 1)[0] == namespace]
        if names:
            shown = [f"`{m}`" if m in validator else f"`{m}`\\*" for m in names]
            lines.append(f"- **{namespace}**: " + ", ".join(shown))
    lines.append("")
    lines.append("\\* the miner only (validators have no pool and take no verdicts).")
    return "\n".join([BEGIN, *lines, END])


def main(argv: list[str]) -> int:
    block = markdown()
    if argv == ["--write"]:
        text = README.read_text()
        start, end = text.index(BEGIN), text.index(END) + len(END)
        README.write_text(text[:start] + block + text[end:])
        print(f"rewrote the method list in {README}")
    elif argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
