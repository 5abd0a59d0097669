"""``eth_getProof`` (EIP-1186): Merkle proofs of an account and of storage slots
against a block's state root, read from the node's own tries.

A proof lists the RLP of every trie node from the root to the key that is stored
by hash (nodes under 32 bytes sit inside their parent and are not repeated), as
go-ethereum answers; a missing account or slot gets a proof of its absence.
"""

from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_hash.auto import keccak
from trie.hexary import HexaryTrie

from common.rpc.errors import invalid_params
from common.rpc.hexcodec import parse_slot, to_data, to_quantity

MAX_PROOF_KEYS = 1024
"""Storage slots one eth_getProof may ask for."""


def _proof(trie: HexaryTrie, key: bytes) -> list[str]:
    nodes = trie.get_proof(key)  # type: ignore[no-untyped-call]
    encoded = [rlp.encode(node) for node in nodes]
    return [to_data(e) for i, e in enumerate(encoded) if i == 0 or len(e) >= 32]


def account_proof(db: Any, state_root: bytes, address: bytes, keys: Any) -> dict[str, Any]:
    """The EIP-1186 answer for ``address`` and storage ``keys`` at ``state_root``."""
    if not isinstance(keys, list):
        raise invalid_params("invalid argument 1: storage keys must be a list")
    if len(keys) > MAX_PROOF_KEYS:
        raise invalid_params(f"invalid argument 1: at most {MAX_PROOF_KEYS} storage keys")
    slots = [(k, parse_slot(k, "storageKey")) for k in keys]
    state = HexaryTrie(db, state_root)
    encoded = state.get(keccak(address))
    account = rlp.decode(encoded, sedes=Account) if encoded else Account()
    storage = HexaryTrie(db, account.storage_root)
    storage_proofs = []
    for given, slot in slots:
        key = keccak(slot.to_bytes(32, "big"))
        value = storage.get(key)
        storage_proofs.append(
            {
                "key": given,
                "value": to_quantity(
                    rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0
                ),
                "proof": [] if account.storage_root == BLANK_ROOT_HASH else _proof(storage, key),
            }
        )
    return {
        "address": to_data(address),
        "accountProof": _proof(state, keccak(address)),
        "balance": to_quantity(account.balance),
        "codeHash": to_data(account.code_hash if encoded else EMPTY_SHA3),
        "nonce": to_quantity(account.nonce),
        "storageHash": to_data(account.storage_root),
        "storageProof": storage_proofs,
    }
