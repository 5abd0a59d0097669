"""Union-find grouping, the declared-group safety check and LPT scheduling."""

from hypothesis import given
from hypothesis import strategies as st

from common.chain.grouping import find_cross_group_conflict, group_transactions, schedule
from common.chain.rwset import BALANCE, AccountWrite, TxRWSet

A, B, C, D = (bytes([i]) * 20 for i in range(1, 5))


def rw(reads=(), writes=(), slots_read=(), slots_written=(), beneficiary=False) -> TxRWSet:
    read_map: dict[bytes, tuple[int, tuple[int, ...]]] = dict.fromkeys(reads, (2, ()))
    for a, s in slots_read:
        read_map[a] = (0, tuple(sorted({*read_map.get(a, (0, ()))[1], s})))
    write_map = {a: AccountWrite(BALANCE, 1) for a in writes}
    for a, s in slots_written:
        write_map.setdefault(a, AccountWrite()).storage[s] = 1
    return TxRWSet(read_map, write_map, beneficiary)


def test_disjoint_transactions_get_their_own_groups():
    rwsets = [rw(writes=[A]), rw(writes=[B]), rw(writes=[C])]
    assert group_transactions(rwsets) == [(0,), (1,), (2,)]


def test_read_write_and_write_write_conflicts_join_groups_in_block_order():
    rwsets = [
        rw(slots_written=[(D, 1)]),
        rw(writes=[A]),
        rw(slots_read=[(D, 1)]),  # reads what tx 0 wrote
        rw(writes=[A]),  # writes what tx 1 wrote
        rw(slots_read=[(D, 2)]),
    ]
    assert group_transactions(rwsets) == [(0, 2), (1, 3), (4,)]


def test_readers_alone_do_not_conflict():
    rwsets = [rw(slots_read=[(D, 1)]), rw(slots_read=[(D, 1)]), rw(reads=[A]), rw(reads=[A])]
    assert group_transactions(rwsets) == [(0,), (1,), (2,), (3,)]


def test_beneficiary_reader_follows_every_earlier_transaction():
    rwsets = [rw(writes=[A]), rw(writes=[B]), rw(writes=[C], beneficiary=True), rw(writes=[D])]
    assert group_transactions(rwsets) == [(0, 1, 2), (3,)]


def test_storage_slots_of_one_contract_are_independent():
    rwsets = [rw(reads=[D], slots_written=[(D, s)]) for s in range(4)]
    assert group_transactions(rwsets) == [(0,), (1,), (2,), (3,)]


def test_cross_group_conflict_is_found_with_tx_and_key():
    rwsets = [rw(slots_read=[(D, 1)]), rw(slots_read=[(D, 1)]), rw(slots_written=[(D, 1)])]
    assert find_cross_group_conflict(rwsets, [(0, 2), (1,)]) == (2, (D, 1))
    assert find_cross_group_conflict(rwsets, [(0, 1, 2)]) is None
    beneficiary = [rw(writes=[A]), rw(writes=[B], beneficiary=True)]
    assert find_cross_group_conflict(beneficiary, [(0,), (1,)]) == (1, None)


keys = st.tuples(st.sampled_from([A, B, C]), st.integers(0, 3))
tx_sets = st.builds(
    lambda r, w, b: rw(slots_read=r, slots_written=w, beneficiary=b),
    st.lists(keys, max_size=3),
    st.lists(keys, max_size=2),
    st.booleans(),
)


@given(st.lists(tx_sets, min_size=1, max_size=30))
def test_union_find_groups_are_a_safe_partition(rwsets):
    groups = group_transactions(rwsets)
    assert sorted(i for g in groups for i in g) == list(range(len(rwsets)))
    assert all(list(g) == sorted(g) for g in groups)
    assert [g[0] for g in groups] == sorted(g[0] for g in groups)
    assert find_cross_group_conflict(rwsets, groups) is None


@given(st.lists(st.integers(1, 10**6), max_size=40), st.integers(1, 5))
def test_lpt_schedule_assigns_every_group_once_and_balances(gas, workers):
    plan = schedule(gas, workers)
    assert sorted(g for groups in plan for g in groups) == list(range(len(gas)))
    loads = [sum(gas[g] for g in groups) for groups in plan]
    if gas:
        # LPT's guarantee: no worker exceeds the optimum by more than the largest job.
        assert max(loads) <= sum(gas) / workers + max(gas)
