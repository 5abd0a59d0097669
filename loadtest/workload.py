"""Signed transaction generators for the workloads (ETH transfers, ERC20 transfers).

Accounts are derived deterministically from an index (``keccak("pavm-workload" || i)``)
so a benchmark's transactions are the same in every run. A *conflict rate* ``p``
sends that fraction of transactions to one hot receiver, which the grouping must
then serialise.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from eth_account import Account
from eth_hash.auto import keccak
from eth_keys import keys
from eth_utils import to_checksum_address

from common.state import ChainConfig, GenesisAccount
from loadtest.contracts import load

GWEI = 10**9
ETHER = 10**18


@dataclass(frozen=True)
class Wallet:
    """A funded key of a workload."""

    key: bytes

    @cached_property
    def address(self) -> bytes:
        return bytes(keys.PrivateKey(self.key).public_key.to_canonical_address())


def wallets(count: int, offset: int = 0) -> list[Wallet]:
    """``count`` deterministic wallets."""
    return [
        Wallet(bytes(keccak(b"pavm-workload" + i.to_bytes(8, "big"))))
        for i in range(offset, offset + count)
    ]


def genesis_alloc(
    accounts: Sequence[Wallet], balance: int = 1000 * ETHER
) -> dict[bytes, GenesisAccount]:
    """Genesis allocation funding every wallet with ``balance`` wei."""
    return {w.address: GenesisAccount(balance=balance) for w in accounts}


def sign(
    wallet: Wallet,
    nonce: int,
    to: bytes | None,
    *,
    config: ChainConfig,
    value: int = 0,
    data: bytes = b"",
    gas: int = 100_000,
    max_fee: int = 100 * GWEI,
    tip: int = 1 * GWEI,
) -> bytes:
    """A signed EIP-1559 transaction in its network encoding (``to=None`` creates)."""
    tx: dict[str, object] = {
        "type": 2,
        "chainId": config.chain_id,
        "nonce": nonce,
        "value": value,
        "data": data,
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
    }
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, wallet.key).raw_transaction)


def contract_address(deployer: bytes, nonce: int) -> bytes:
    """Address of the contract ``deployer`` creates with ``nonce`` (CREATE)."""
    import rlp

    return bytes(keccak(rlp.encode([deployer, nonce]))[12:])


def _targets(
    senders: Sequence[Wallet],
    receivers: Sequence[Wallet],
    hot: Wallet,
    conflict_rate: float,
    seed: int,
) -> list[tuple[Wallet, bytes]]:
    """(sender, receiver address) pairs: each sender's own receiver, or ``hot`` at rate p."""
    rng = random.Random(seed)
    return [
        (sender, (hot if rng.random() < conflict_rate else receiver).address)
        for sender, receiver in zip(senders, receivers, strict=True)
    ]


def transfer_block(
    senders: Sequence[Wallet],
    receivers: Sequence[Wallet],
    hot: Wallet,
    conflict_rate: float,
    nonce: int,
    config: ChainConfig,
    seed: int = 0,
) -> list[bytes]:
    """One ETH transfer from each sender, to its own receiver or (at rate p) to ``hot``."""
    return [
        sign(sender, nonce, target, config=config, value=1000, gas=21_000)
        for sender, target in _targets(senders, receivers, hot, conflict_rate, seed)
    ]


def erc20_block(
    token: bytes,
    senders: Sequence[Wallet],
    receivers: Sequence[Wallet],
    hot: Wallet,
    conflict_rate: float,
    nonce: int,
    config: ChainConfig,
    seed: int = 0,
) -> list[bytes]:
    """One token transfer from each sender, to its own receiver or (at rate p) to ``hot``."""
    erc20 = load("erc20")
    return [
        sign(
            sender,
            nonce,
            token,
            config=config,
            data=erc20.call_data("transfer", to_checksum_address(target), 1),
            gas=80_000,
        )
        for sender, target in _targets(senders, receivers, hot, conflict_rate, seed)
    ]
