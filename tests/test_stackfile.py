"""scripts/stackfile.py turns compose's port forms into a swarm's host-mode ports."""

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("stackfile", ROOT / "scripts/stackfile.py")
assert spec is not None and spec.loader is not None
stackfile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stackfile)


@pytest.mark.parametrize(
    ("port", "published"),
    [
        ("8546", None),
        ("${PAVM_RPC_PORT:-8545}:8545", "${PAVM_RPC_PORT:-8545}"),
        ("${PAVM_RPC_HOST:-127.0.0.1}:${PAVM_RPC_PORT:-8545}:8545", "${PAVM_RPC_PORT:-8545}"),
        ("127.0.0.1:9000:8545", "9000"),
    ],
)
def test_ports_become_host_mode_entries(port, published):
    entry = stackfile._host_mode(port)
    assert entry["target"] == int(port.rsplit(":", 1)[-1]) and entry["mode"] == "host"
    assert entry.get("published") == published


def test_a_port_of_no_known_form_is_refused():
    with pytest.raises(ValueError, match="HOST"):
        stackfile._host_mode("a:b:c:8545")


def test_the_compose_file_converts():
    stack = stackfile.swarm_form(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))
    miner = stack["services"]["miner"]["ports"]
    assert miner == [
        {"target": 8545, "protocol": "tcp", "mode": "host", "published": "${PAVM_RPC_PORT:-8545}"}
    ]
