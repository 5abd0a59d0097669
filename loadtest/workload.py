"""Accounts and signing for the workloads: deterministic wallets and EIP-1559 transactions.

Workload senders come from the development mnemonic (``mnemonic_wallets``); tests that
need throw-away addresses use ``wallets``, derived from ``keccak("pavm-workload" || i)``.
What each transaction calls is :mod:`loadtest.workloads`; :mod:`loadtest.generator`
puts the two together.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_hash.auto import keccak
from eth_keys import keys
from eth_utils import to_checksum_address

from common.genesis import DEV_MNEMONIC
from common.state import ChainConfig, GenesisAccount

WORKLOAD_ACCOUNTS = 1000
"""First mnemonic index of workload senders."""
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


@cache
def _dev_seed() -> bytes:
    return bytes(seed_from_mnemonic(DEV_MNEMONIC, ""))


def mnemonic_wallets(count: int, offset: int = WORKLOAD_ACCOUNTS) -> list[Wallet]:
    """Accounts ``offset .. offset+count-1`` of the development mnemonic.

    Load tests and the generator use these, so a user who knows the mnemonic can look
    at any workload account in a wallet; the default offset keeps clear of the ten
    prefunded accounts and the miner's key (index 100).
    """
    seed = _dev_seed()
    return [
        Wallet(bytes(key_from_seed(seed, f"m/44'/60'/0'/0/{index}")))
        for index in range(offset, offset + count)
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
