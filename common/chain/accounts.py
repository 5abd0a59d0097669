"""Accounts of the development chain and how they sign: keys, addresses, EIP-1559 transactions.

Every key here is derived, so anyone can reproduce it: the standard development
mnemonic (the one anvil and hardhat use) gives the ten prefunded accounts (indices
0-9) and the workload senders (from index 1000); ``wallets`` gives throw-away keys
from ``keccak("pavm-workload" || i)`` for tests. These keys fund and send
transactions and nothing else: a node's own key is secret and made by the node
(:mod:`common.net.keyfile`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

from eth._utils.address import generate_contract_address
from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_hash.auto import keccak
from eth_keys import keys
from eth_typing import Address
from eth_utils import to_checksum_address

from common.chain.state import ChainConfig, GenesisAccount

DEV_MNEMONIC = "test test test test test test test test test test test junk"
WORKLOAD_ACCOUNTS = 1000
"""First mnemonic index of workload senders."""
GWEI = 10**9
ETHER = 10**18


def address_of(key: bytes) -> bytes:
    """The 20-byte address of a secp256k1 private key."""
    return bytes(keys.PrivateKey(key).public_key.to_canonical_address())


def contract_address(deployer: bytes, nonce: int) -> bytes:
    """Address of the contract ``deployer`` creates with ``nonce`` (CREATE)."""
    return bytes(generate_contract_address(Address(deployer), nonce))


@dataclass(frozen=True)
class Wallet:
    """A private key and, derived once, its address."""

    key: bytes

    @cached_property
    def address(self) -> bytes:
        return address_of(self.key)


def wallets(count: int, offset: int = 0) -> list[Wallet]:
    """``count`` deterministic throw-away wallets (not on the mnemonic)."""
    return [
        Wallet(bytes(keccak(b"pavm-workload" + i.to_bytes(8, "big"))))
        for i in range(offset, offset + count)
    ]


@cache
def _dev_seed() -> bytes:
    return bytes(seed_from_mnemonic(DEV_MNEMONIC, ""))


def mnemonic_wallets(count: int, offset: int = WORKLOAD_ACCOUNTS) -> list[Wallet]:
    """Accounts ``offset .. offset+count-1`` of the development mnemonic (m/44'/60'/0'/0/i).

    Load tests and the generator use these from ``WORKLOAD_ACCOUNTS`` on, so a user who
    knows the mnemonic can look at any workload account in a wallet, clear of the ten
    prefunded accounts and the miner's key.
    """
    seed = _dev_seed()
    return [
        Wallet(bytes(key_from_seed(seed, f"m/44'/60'/0'/0/{index}")))
        for index in range(offset, offset + count)
    ]


def dev_accounts(count: int = 10) -> list[Wallet]:
    """The first ``count`` accounts of the development mnemonic (0-9 are prefunded)."""
    return mnemonic_wallets(count, offset=0)


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
