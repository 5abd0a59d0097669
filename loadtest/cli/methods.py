"""docs/rpc.md's list of JSON-RPC methods, generated from the nodes' own method tables so
the list can never drift from what is served.

    python -m loadtest.cli.methods           print the list
    python -m loadtest.cli.methods --write   rewrite it in docs/rpc.md, between its markers
"""

import sys
import tempfile
import threading
from pathlib import Path

from common.chain.genesis import GenesisSpec
from common.chain.state import ChainConfig
from miner.app import rpc_methods
from miner.dev import REFUSED
from miner.node import MinerNode, MinerSettings
from validator.app import rpc_methods as validator_methods

PAGE = Path(__file__).resolve().parents[2] / "docs" / "rpc.md"
BEGIN, END = "<!-- methods:begin -->", "<!-- methods:end -->"
NAMESPACES = ("web3", "net", "eth", "txpool", "debug", "evm", "pavm")


def served() -> tuple[list[str], list[str], list[str]]:
    """(a dev miner's, a plain miner's, a validator's) method names, from nodes over
    a scratch chain."""
    tables = []
    for dev in (True, False):
        with tempfile.TemporaryDirectory() as scratch:
            settings = MinerSettings(
                data_dir=Path(scratch),
                key=b"\x01" * 32,
                genesis=GenesisSpec(ChainConfig(), {}),
                dev=dev,
            )
            node = MinerNode(settings)
            try:
                tables.append(sorted(rpc_methods(node)[1]))
                if not dev:
                    lock = threading.RLock()
                    tables.append(sorted(validator_methods(node.store, lock, dict)[1]))
            finally:
                node.stop()
    return tables[0], tables[1], tables[2]


def markdown() -> str:
    """The list as docs/rpc.md shows it: one line per namespace, the miner's own and the dev
    network's marked, then the methods refused on purpose with the reason."""
    dev, miner, validator = served()
    lines = []
    for namespace in NAMESPACES:
        names = [m for m in sorted({*dev, *validator}) if m.split("_", 1)[0] == namespace]
        if names:
            shown = [f"`{m}`" + _mark(m, miner, validator) for m in names]
            lines.append(f"- **{namespace}**: " + ", ".join(shown))
    lines += [
        "",
        "\\* the miner only (validators have no pool and take no verdicts);",
        "‡ validators only (how they validated their recent blocks, what equivocations they saw);",
        "† only on a dev network (`--dev`), where `eth_accounts` also lists the",
        "development accounts (elsewhere it is empty).",
        "",
        "Refused with -32601 and the reason (`miner/dev.py`): "
        + ", ".join(f"`{m}`" for m in sorted(REFUSED))
        + ". Each would change state outside a transaction, or run one without its "
        "sender's signature: validators could not re-execute it and would disagree "
        "with the miner.",
    ]
    return "\n".join([BEGIN, *lines, END])


def _mark(method: str, miner: list[str], validator: list[str]) -> str:
    if method not in miner:
        return "‡" if method in validator else "†"
    return "" if method in validator else "\\*"


def main(argv: list[str]) -> int:
    block = markdown()
    if argv == ["--write"]:
        text = PAGE.read_text()
        start, end = text.index(BEGIN), text.index(END) + len(END)
        PAGE.write_text(text[:start] + block + text[end:])
        print(f"rewrote the method list in {PAGE}")
    elif argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
