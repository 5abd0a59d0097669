"""State commitment: a block diff applied to the tries, giving the new state root.

The validator does not replay the diff through py-evm's account database; it writes
the post-values straight into the storage tries and then the account trie with the
batch update of :mod:`common.chain.trie`, following py-evm's rules for what exists::

    diff ─▶ per account with storage changes: storage trie update ─▶ storage root
       └──▶ account trie update (old record + written fields + storage root) ─▶ state root

The resulting nodes are the ones py-evm would have written, so any py-evm state can
be opened on the new root (replicas, the next block, a restarted worker).
"""

from collections.abc import Iterator, Mapping, MutableMapping

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_hash.auto import keccak

from common.chain import trie
from common.chain.rwset import BALANCE, CODE, EXISTS, NONCE, STORAGE_WIPED, WIPED, AccountWrite


class NodeBuffer(MutableMapping[bytes, bytes]):
    """New trie nodes held in memory over a database they read through to.

    A validator commits a block's state into a buffer, and writes the buffer in the
    same transaction as the block only once every check passed.
    """

    def __init__(self, db: Mapping[bytes, bytes]) -> None:
        self.db = db
        self.nodes: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.nodes.get(key)
        return self.db[key] if value is None else value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.nodes[key] = value

    def __delitem__(self, key: bytes) -> None:
        raise TypeError("trie nodes are never deleted")

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)


def account_at(db: MutableMapping[bytes, bytes], root: bytes, address: bytes) -> Account | None:
    """The account record of ``address`` in the state at ``root``, or ``None``."""
    raw = trie.get(db, root, keccak(address))
    return None if raw is None else rlp.decode(raw, sedes=Account)


def balance_at(db: MutableMapping[bytes, bytes], root: bytes, address: bytes) -> int:
    """Balance of ``address`` at ``root`` (0 for a missing account)."""
    account = account_at(db, root, address)
    return 0 if account is None else int(account.balance)


def _storage_root(
    db: MutableMapping[bytes, bytes], root: bytes, address: bytes, write: AccountWrite
) -> bytes:
    if write.flags & (WIPED | STORAGE_WIPED):
        base = BLANK_ROOT_HASH
    else:
        account = account_at(db, root, address)
        base = BLANK_ROOT_HASH if account is None else account.storage_root
    by_key = {keccak(slot.to_bytes(32, "big")): value for slot, value in write.storage.items()}

    def value_of(key: bytes, _old: bytes | None) -> bytes | None:
        value = by_key[key]
        return rlp.encode(value) if value else None

    return trie.update(db, bytes(base), by_key, value_of)


def commit(
    db: MutableMapping[bytes, bytes], root: bytes, diff: Mapping[bytes, AccountWrite]
) -> bytes:
    """Apply ``diff`` (post-values per account) to the state at ``root``; the new root."""
    storage_roots = {
        address: _storage_root(db, root, address, write)
        for address, write in diff.items()
        if write.storage or write.flags & (WIPED | STORAGE_WIPED)
    }
    by_key = {keccak(address): address for address in diff}

    def account_of(key: bytes, old: bytes | None) -> bytes | None:
        address = by_key[key]
        write = diff[address]
        flags = write.flags
        storage_root: bytes
        code_hash: bytes
        if old is None or flags & WIPED:
            exists = bool(flags & EXISTS)
            nonce, balance, storage_root, code_hash = 0, 0, BLANK_ROOT_HASH, EMPTY_SHA3
        else:
            exists = True
            account = rlp.decode(old, sedes=Account)
            nonce, balance = account.nonce, account.balance
            storage_root, code_hash = account.storage_root, account.code_hash
        storage_root = storage_roots.get(address, storage_root)
        if not exists and storage_root == BLANK_ROOT_HASH:
            return None
        if flags & BALANCE:
            balance = write.balance
        if flags & NONCE:
            nonce = write.nonce
        if flags & CODE:
            code_hash = keccak(write.code)
            if write.code:
                db[code_hash] = write.code
        return bytes(rlp.encode(Account(nonce, balance, storage_root, code_hash), sedes=Account))

    return trie.update(db, root, by_key, account_of)
