"""Invariant 1: parallel validation == serial mining == unmodified py-evm, for random blocks.

Blocks mix ETH transfers (some to fresh accounts), ERC20 transfers to a few hot
holders, same-sender chains, probe calls that revert, run out of gas, log, use
transient storage, CREATE2 and SELFDESTRUCT, call a precompile, and read the
coinbase, plus contract creations. Each example mines two blocks and validates them
with 1, 2 and 4 workers.
"""

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.chain.accounts import Wallet, wallets
from loadtest.workloads.contracts import load
from tests.conftest import MINER, MINER_KEY, Chain, Deployed
from validator.validate import Validator

PROBE = load("probe")
ERC20 = load("erc20")
FRESH = [w.address for w in wallets(6, offset=9000)]


@dataclass(frozen=True)
class Spec:
    kind: str
    sender: int
    a: int
    b: int


KINDS = [
    "eth",
    "eth_fresh",
    "erc20",
    "set",
    "add",
    "bump",
    "revert",
    "inner_revert",
    "try_inner",
    "oog",
    "transient",
    "coinbase",
    "pay_fresh",
    "clone",
    "clone_destroy",
    "hash",
    "create",
    "miner",
]

specs = st.builds(
    Spec,
    kind=st.sampled_from(KINDS),
    sender=st.integers(1, 8),
    a=st.integers(0, 5),
    b=st.integers(0, 3),
)


def make_tx(chain: Chain, deployed: Deployed, people, spec: Spec) -> bytes:
    sender = people[spec.sender]
    probe, token = deployed.probe, deployed.token
    holder = "0x" + people[spec.a].address.hex()
    fresh = FRESH[spec.a]
    salt = bytes([spec.a, spec.b]) * 16
    call: dict[str, tuple[str, *tuple[object, ...]]] = {
        "set": ("set_value", spec.a, spec.b),
        "add": ("add_value", spec.a, spec.b + 1),
        "bump": ("bump",),
        "revert": ("set_then_revert", spec.a, 1),
        "inner_revert": ("inner_revert", spec.a, 2),
        "try_inner": ("try_inner_revert", spec.a, 3),
        "oog": ("burn_gas", spec.a),
        "transient": ("transient_sum", spec.a, spec.b, 7),
        "coinbase": ("read_coinbase", spec.a),
        "clone": ("clone", salt),
        "clone_destroy": ("clone_and_destroy", salt, "0x" + fresh.hex()),
        "hash": ("hash_it", spec.a, bytes([spec.b]) * 3),
    }
    if spec.kind == "eth":
        return chain.tx(sender, people[spec.a].address, value=10**15 + spec.b, gas=21_000)
    if spec.kind == "eth_fresh":
        return chain.tx(sender, fresh, value=spec.b * 10**9, gas=21_000)
    if spec.kind == "erc20":
        data = ERC20.call_data("transfer", holder, spec.b + 1)
        return chain.tx(sender, token, data=data, gas=90_000)
    if spec.kind == "pay_fresh":
        data = PROBE.call_data("pay", "0x" + fresh.hex())
        return chain.tx(sender, probe, data=data, value=spec.b + 1, gas=100_000)
    if spec.kind == "miner":
        # The beneficiary itself sends: it reads its own balance and nonce.
        miner = Wallet(MINER_KEY)
        return chain.tx(miner, people[spec.a].address, value=spec.b, gas=21_000, tip=spec.b)
    if spec.kind == "create":
        return chain.tx(sender, None, data=PROBE.deploy_data(), gas=1_500_000)
    function, *args = call[spec.kind]
    gas = 120_000 if spec.kind == "oog" else 1_000_000
    return chain.tx(sender, probe, data=PROBE.call_data(function, *args), gas=gas, tip=spec.b)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(blocks=st.lists(st.lists(specs, min_size=1, max_size=14), min_size=2, max_size=2))
def test_parallel_equals_serial_equals_pyevm(deployed, people, blocks):
    chain = Chain(deployed.state, dict(deployed.nonces))
    built = []
    for block_specs in blocks:
        txs = [make_tx(chain, deployed, people, spec) for spec in block_specs]
        built.append(chain.mine(txs))  # asserts miner root == unmodified py-evm root
    for workers in (1, 2, 4):
        with Validator(deployed.state, MINER, workers=workers) as validator:
            for b in built:
                report = validator.validate(b.block)
                assert report.receipts == tuple(o.receipt for o in b.outcomes)
                assert validator.state.head.hash == b.block.hash
            assert validator.state.head.state_root == chain.state.head.state_root
