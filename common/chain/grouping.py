"""Grouping (paper 4.3): union-find over state keys, then groups scheduled to workers.

Two transactions conflict when one writes a key the other reads or writes; a
transaction that touched the block beneficiary follows every earlier transaction.
Union-find joins conflicting transactions into groups that keep block order inside;
groups share no written key, so they can run on different workers in any order.
"""

import heapq
from collections.abc import Sequence

from eth_hash.auto import keccak

from common.chain.rwset import TxRWSet
from common.encoding import codec
from common.encoding.codec import uint
from common.types import StateKey


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller index stays the root, so a group is named by its first tx.
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


def group_transactions(rwsets: Sequence[TxRWSet]) -> list[tuple[int, ...]]:
    """Partition transaction indices into conflict-free groups, ordered by first index."""
    uf = _UnionFind(len(rwsets))
    accessors: dict[StateKey, list[int]] = {}
    written: set[StateKey] = set()
    for index, rwset in enumerate(rwsets):
        if rwset.reads_beneficiary:
            for earlier in range(index):
                uf.union(earlier, index)
        for key, is_write in rwset.conflict_keys():
            accessors.setdefault(key, []).append(index)
            if is_write:
                written.add(key)
    for key in written:
        txs = accessors[key]
        first = txs[0]
        for other in txs[1:]:
            uf.union(first, other)
    members: dict[int, list[int]] = {}
    for index in range(len(rwsets)):
        members.setdefault(uf.find(index), []).append(index)
    return [tuple(members[root]) for root in sorted(members)]


def find_cross_group_conflict(
    rwsets: Sequence[TxRWSet], groups: Sequence[Sequence[int]]
) -> tuple[int, StateKey | None] | None:
    """Check declared groups against declared R/W sets.

    Returns ``(tx_index, key)`` of the first transaction that conflicts with a
    transaction of another group (``key`` is ``None`` for a beneficiary reader split
    from an earlier transaction), or ``None`` when the grouping is safe.
    """
    group_of = {}
    for gid, members in enumerate(groups):
        for index in members:
            group_of[index] = gid
    seen: dict[StateKey, set[int]] = {}
    written: set[StateKey] = set()
    for index, rwset in enumerate(rwsets):
        gid = group_of[index]
        if rwset.reads_beneficiary and any(group_of[e] != gid for e in range(index)):
            return index, None
        for key, is_write in rwset.conflict_keys():
            gids = seen.setdefault(key, set())
            gids.add(gid)
            if is_write:
                written.add(key)
            if len(gids) > 1 and key in written:
                return index, key
    return None


def groups_encoding(groups: Sequence[Sequence[int]], gas: Sequence[int]) -> bytes:
    """Canonical bytes of the block's groups: ``[[gas, [index, ...]], ...]``."""
    return codec.encode(groups_rlp(groups, gas))


def groups_rlp(groups: Sequence[Sequence[int]], gas: Sequence[int]) -> list[object]:
    """The groups as nested byte strings, ready for RLP."""
    pairs = zip(gas, groups, strict=True)
    return [[uint(g), [uint(i) for i in members]] for g, members in pairs]


def groups_hash(encoding: bytes) -> bytes:
    """The header's commitment to the block's groups."""
    return bytes(keccak(encoding))


def schedule(gas: Sequence[int], workers: int) -> list[list[int]]:
    """Longest-processing-time-first: group ids per worker, heaviest groups placed first.

    Each group goes to the worker with the least gas so far; a worker's groups are
    returned in ascending order so the run is reproducible.
    """
    loads = [(0, w) for w in range(workers)]
    heapq.heapify(loads)
    plan: list[list[int]] = [[] for _ in range(workers)]
    for gid in sorted(range(len(gas)), key=lambda g: (-gas[g], g)):
        load, worker = heapq.heappop(loads)
        plan[worker].append(gid)
        heapq.heappush(loads, (load + gas[gid], worker))
    return [sorted(groups) for groups in plan]
