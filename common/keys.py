"""Well-known keys of a development chain.

The miner signs with its own key, not one of the funded user accounts: a user's
transaction that touches the beneficiary is ordered after every earlier transaction
of the block, so a miner shared with a busy user account would serialise its blocks.
"""

from functools import cache

from eth_keys import keys

from common.genesis import dev_account

MINER_ACCOUNT_INDEX = 100
"""Derivation index (m/44'/60'/0'/0/100) of the default miner key."""


@cache
def default_miner_key() -> bytes:
    return dev_account(MINER_ACCOUNT_INDEX).key


def address_of(key: bytes) -> bytes:
    return bytes(keys.PrivateKey(key).public_key.to_canonical_address())
