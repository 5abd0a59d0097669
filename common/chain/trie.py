"""Batch updates of Ethereum's hexary Merkle-Patricia trie, for the state root.

py-evm's ``HexaryTrie`` applies one key at a time, re-encoding and re-hashing the
whole path from the root for every key: for a block touching 300 accounts the
16-way root node is rebuilt 300 times. :func:`update` applies a sorted batch in one
descent instead, so each touched node is loaded once and encoded and hashed once.
Nodes are written to the same content-addressed database in the standard encoding
(hex-prefix paths, nodes under 32 bytes embedded in their parent), so py-evm reads
the resulting state as if it had written it itself; the tests check roots against
``HexaryTrie`` on random batches.
"""

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from itertools import groupby
from typing import Any, TypeVar

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak

Nibbles = tuple[int, ...]
T = TypeVar("T")
Resolver = Callable[[bytes, bytes | None], bytes | None]
"""Given a key and its current value (``None`` when absent), the new value or ``None``."""


class Leaf:
    __slots__ = ("path", "value")

    def __init__(self, path: Nibbles, value: bytes) -> None:
        self.path = path
        self.value = value


class Extension:
    __slots__ = ("child", "path")

    def __init__(self, path: Nibbles, child: Any) -> None:
        self.path = path
        self.child = child


class Branch:
    __slots__ = ("children",)

    def __init__(self, children: list[Any]) -> None:
        self.children = children


Node = Leaf | Extension | Branch | None


def nibbles(key: bytes) -> Nibbles:
    """The nibbles of ``key``, high half of each byte first."""
    out: list[int] = []
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 15)
    return tuple(out)


def _hp_encode(path: Nibbles, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(path) % 2:
        first = bytes(((flag + 1) << 4 | path[0],))
        rest = path[1:]
    else:
        first = bytes((flag << 4,))
        rest = path
    return first + bytes(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))


def _hp_decode(encoded: bytes) -> tuple[Nibbles, bool]:
    all_nibbles = nibbles(encoded)
    flag = all_nibbles[0]
    path = all_nibbles[1:] if flag & 1 else all_nibbles[2:]
    return path, bool(flag & 2)


def _by_nibble(
    entries: list[tuple[Nibbles, T]], depth: int
) -> Iterator[tuple[int, list[tuple[Nibbles, T]]]]:
    """Runs of sorted ``entries`` sharing the nibble at ``depth``."""
    for nibble, group in groupby(entries, key=lambda entry: entry[0][depth]):
        yield nibble, list(group)


class _Trie:
    """One batch update against ``db``; loads nodes lazily, writes new ones on encode."""

    def __init__(self, db: MutableMapping[bytes, bytes]) -> None:
        self.db = db

    def load(self, ref: Any) -> Node:
        """Turn a reference (hash, embedded item, blank) or a node into a node."""
        if ref is None or isinstance(ref, Leaf | Extension | Branch):
            return ref
        if isinstance(ref, bytes):
            if ref == b"":
                return None
            item = rlp.decode(self.db[ref])
        else:
            item = ref
        if len(item) == 17:
            return Branch([None if c == b"" else c for c in item[:16]])
        path, is_leaf = _hp_decode(item[0])
        return Leaf(path, item[1]) if is_leaf else Extension(path, item[1])

    def update(
        self, node: Node, items: list[tuple[Nibbles, bytes]], depth: int, resolve: Resolver
    ) -> Node:
        if node is None:
            fresh = []
            for nibs, key in items:
                value = resolve(key, None)
                if value is not None:
                    fresh.append((nibs, value))
            return self.build(fresh, depth)
        if isinstance(node, Leaf):
            entries = []
            overridden = False
            for nibs, key in items:
                if nibs[depth:] == node.path:
                    overridden = True
                    value = resolve(key, node.value)
                else:
                    value = resolve(key, None)
                if value is not None:
                    entries.append((nibs, value))
            if not overridden:
                entries.append((items[0][0][:depth] + node.path, node.value))
                entries.sort()
            return self.build(entries, depth)
        if isinstance(node, Extension):
            path = node.path
            end = depth + len(path)
            if all(nibs[depth:end] == path for nibs, _ in items):
                child = self.update(self.load(node.child), items, end, resolve)
                return self.extend(path, child)
            rest = node.child if len(path) == 1 else Extension(path[1:], node.child)
            children: list[Any] = [None] * 16
            children[path[0]] = rest
            node = Branch(children)
        children = list(node.children)
        for nibble, group in _by_nibble(items, depth):
            children[nibble] = self.update(self.load(children[nibble]), group, depth + 1, resolve)
        return self.collapse(children)

    def build(self, entries: list[tuple[Nibbles, bytes]], depth: int) -> Node:
        """A fresh subtree holding sorted ``entries`` (full nibble paths, values)."""
        if not entries:
            return None
        if len(entries) == 1:
            nibs, value = entries[0]
            return Leaf(nibs[depth:], value)
        first, last = entries[0][0], entries[-1][0]
        shared = depth
        while first[shared] == last[shared]:
            shared += 1
        children: list[Any] = [None] * 16
        for nibble, group in _by_nibble(entries, shared):
            children[nibble] = self.build(group, shared + 1)
        branch = Branch(children)
        return Extension(first[depth:shared], branch) if shared > depth else branch

    def extend(self, path: Nibbles, child: Node) -> Node:
        """``path`` followed by ``child``, merged into one node where the encoding demands."""
        if child is None:
            return None
        if isinstance(child, Leaf):
            return Leaf(path + child.path, child.value)
        if isinstance(child, Extension):
            return Extension(path + child.path, child.child)
        return Extension(path, child)

    def collapse(self, children: list[Any]) -> Node:
        """A branch, or what it shrinks to when at most one child is left."""
        used = [i for i, child in enumerate(children) if child is not None]
        if not used:
            return None
        if len(used) == 1:
            only = used[0]
            return self.extend((only,), self.load(children[only]))
        return Branch(children)

    def encode(self, node: Any) -> Any:
        """The reference a parent holds for ``node``, storing it when 32 bytes or more."""
        if node is None:
            return b""
        if isinstance(node, Leaf):
            item: Any = [_hp_encode(node.path, True), node.value]
        elif isinstance(node, Extension):
            item = [_hp_encode(node.path, False), self.encode(node.child)]
        elif isinstance(node, Branch):
            item = [self.encode(child) for child in node.children]
            item.append(b"")
        else:
            return node  # an unchanged reference
        raw = rlp.encode(item)
        if len(raw) < 32:
            return item
        digest = keccak(raw)
        self.db[digest] = raw
        return digest

    def root(self, node: Node) -> bytes:
        if node is None:
            return bytes(BLANK_ROOT_HASH)
        ref = self.encode(node)
        if isinstance(ref, bytes):
            return ref
        raw = rlp.encode(ref)
        digest = bytes(keccak(raw))
        self.db[digest] = raw
        return digest


def update(
    db: MutableMapping[bytes, bytes], root: bytes, keys: Iterable[bytes], resolve: Resolver
) -> bytes:
    """Set each key (32 bytes, already hashed) to ``resolve(key, old value)``; new root.

    ``resolve`` returning ``None`` deletes the key. New nodes are written to ``db``;
    old ones are kept, so earlier roots stay readable.
    """
    items = sorted((nibbles(key), key) for key in set(keys))
    trie = _Trie(db)
    node = trie.load(b"" if root == BLANK_ROOT_HASH else root)
    if items:
        node = trie.update(node, items, 0, resolve)
    return trie.root(node)


def get(db: MutableMapping[bytes, bytes], root: bytes, key: bytes) -> bytes | None:
    """The value under ``key`` (32 bytes) in the trie at ``root``, or ``None``."""
    trie = _Trie(db)
    node = trie.load(b"" if root == BLANK_ROOT_HASH else root)
    path = nibbles(key)
    depth = 0
    while node is not None:
        if isinstance(node, Leaf):
            return node.value if path[depth:] == node.path else None
        if isinstance(node, Extension):
            end = depth + len(node.path)
            if path[depth:end] != node.path:
                return None
            node, depth = trie.load(node.child), end
        else:
            node, depth = trie.load(node.children[path[depth]]), depth + 1
    return None
