"""The batch trie update gives py-evm's HexaryTrie roots, and HexaryTrie reads its nodes."""

from eth.constants import BLANK_ROOT_HASH
from hypothesis import given, settings
from hypothesis import strategies as st
from trie.hexary import HexaryTrie

from common.chain import trie

keys = st.binary(min_size=32, max_size=32)
# Short values make embedded (< 32 byte) nodes, long ones hashed nodes.
values = st.one_of(st.binary(min_size=1, max_size=3), st.binary(min_size=30, max_size=80))
# Keys sharing long prefixes force extension nodes.
clustered = st.builds(
    lambda p, s: p + s,
    st.sampled_from([b"\x11" * 30, b"\x12" * 29 + b"\x34"]),
    st.binary(min_size=2, max_size=2),
)
any_key = st.one_of(keys, clustered)


@settings(max_examples=300, deadline=None)
@given(
    initial=st.dictionaries(any_key, values, max_size=40),
    changes=st.dictionaries(any_key, st.one_of(st.none(), values), max_size=40),
    delete_existing=st.lists(st.integers(0, 39), max_size=10),
)
def test_batch_update_matches_hexary_trie(initial, changes, delete_existing):
    reference = HexaryTrie({})
    for key, value in initial.items():
        reference[key] = value
    db = dict(reference.db)
    start = reference.root_hash
    existing = sorted(initial)
    for i in delete_existing:
        if i < len(existing):
            changes[existing[i]] = None
    for key, value in changes.items():
        if value is None:
            if key in reference:
                del reference[key]
        else:
            reference[key] = value

    root = trie.update(db, start, changes, lambda key, old: changes[key])
    assert root == reference.root_hash
    final = {**initial, **changes}
    readback = HexaryTrie(db, root)
    for key, value in final.items():
        assert trie.get(db, root, key) == value
        if value is not None:
            assert readback[key] == value


def test_resolver_sees_the_old_value():
    db: dict[bytes, bytes] = {}
    key = b"\x01" * 32
    root = trie.update(db, BLANK_ROOT_HASH, [key], lambda k, old: b"first")
    seen = []

    def second(key: bytes, old: bytes | None) -> bytes:
        seen.append(old)
        return b"second"

    trie.update(db, root, [key], second)
    assert seen == [b"first"]
