"""The test tiers by folder, and fixtures: a genesis with funded wallets, and a chain
with the probe and ERC20 deployed."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.chain.accounts import Wallet, address_of, contract_address, genesis_alloc, sign, wallets
from common.chain.state import ChainConfig, ChainState
from common.evm.forks import apply_reference, decode_transaction
from loadtest.workloads.contracts import load
from miner.builder import BuiltBlock, build_block

MINER_KEY = b"\x11" * 32
MINER = address_of(MINER_KEY)
CONFIG = ChainConfig()
TOKEN_SUPPLY = 10**30
HERE = Path(__file__).resolve().parent
# Tests under these folders carry the marker of their tier (pyproject.toml registers
# them): `scripts/test --fast` deselects them.
TIERS = {HERE / "services": pytest.mark.services, HERE / "compose": pytest.mark.compose}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for folder, marker in TIERS.items():
            if item.path.is_relative_to(folder):
                item.add_marker(marker)


def reference_root(parent: ChainState, built: BuiltBlock) -> bytes:
    """State root of unmodified py-evm applying the block's transactions in order."""
    header = built.block.header
    state = parent.reference_state(parent.next_env(header.beneficiary, header.timestamp))
    apply_reference(state, [decode_transaction(raw) for raw in built.block.transactions])
    return bytes(state.make_state_root())


@dataclass
class Chain:
    """A miner's view of a test chain: the head state and each wallet's next nonce."""

    state: ChainState
    nonces: dict[bytes, int] = field(default_factory=dict)

    def tx(self, wallet: Wallet, to: bytes | None, **kwargs: object) -> bytes:
        nonce = self.nonces.get(wallet.address, 0)
        self.nonces[wallet.address] = nonce + 1
        return sign(wallet, nonce, to, config=CONFIG, **kwargs)  # type: ignore[arg-type]

    def mine(self, txs: Sequence[bytes], check_reference: bool = True) -> BuiltBlock:
        parent = self.state
        built = build_block(parent, txs, MINER_KEY)
        assert not built.skipped, built.skipped
        if check_reference:
            assert reference_root(parent, built) == built.block.header.state_root
        self.state = built.state
        return built


@pytest.fixture(scope="session")
def people() -> list[Wallet]:
    return wallets(12)


@pytest.fixture(scope="session")
def genesis(people: list[Wallet]) -> ChainState:
    """Every wallet funded, the miner too (so it can send transactions of its own)."""
    return ChainState.genesis(genesis_alloc([*people, Wallet(MINER_KEY)]), CONFIG)


@dataclass(frozen=True)
class Deployed:
    state: ChainState
    nonces: dict[bytes, int]
    probe: bytes
    token: bytes


@pytest.fixture(scope="session")
def deployed(genesis: ChainState, people: list[Wallet]) -> Deployed:
    """Block 1 deploys the probe (funded) and the token; block 2 hands every wallet tokens."""
    chain = Chain(genesis)
    deployer = people[0]
    probe = contract_address(deployer.address, 0)
    token = contract_address(deployer.address, 1)
    chain.mine(
        [
            chain.tx(deployer, None, data=load("probe").deploy_data(), gas=3_000_000, value=10**18),
            chain.tx(deployer, None, data=load("erc20").deploy_data(TOKEN_SUPPLY), gas=3_000_000),
        ]
    )
    holders = ["0x" + w.address.hex() for w in people]
    chain.mine(
        [
            chain.tx(
                deployer,
                token,
                data=load("erc20").call_data("distribute", holders, 10**20),
                gas=3_000_000,
            )
        ]
    )
    return Deployed(chain.state, dict(chain.nonces), probe, token)


@pytest.fixture
def chain(deployed: Deployed) -> Chain:
    return Chain(deployed.state, dict(deployed.nonces))
