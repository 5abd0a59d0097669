"""Decoders for bytes from outside: depth limits that agree with the real nesting, and
short fuzz runs in which no input makes a decoder or the JSON-RPC dispatcher raise
anything but its documented error (invariant 9, docs/architecture.md)."""

import contextlib
import json

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from common.chain.block import Block
from common.encoding.untrusted import MAX_RLP_DEPTH, check_rlp_depth, first_list_item, load_json
from common.evm.forks import decode_transaction
from common.rpc.dispatch import Dispatcher

nested = st.recursive(
    st.binary(max_size=70), lambda inner: st.lists(inner, max_size=4), max_leaves=40
)


def _depth(item: object) -> int:
    if isinstance(item, list):
        return 1 + max((_depth(i) for i in item), default=0)
    return 0


@given(nested, st.integers(min_value=0, max_value=8))
def test_rlp_depth_check_agrees_with_the_real_nesting(item, limit):
    data = rlp.encode(item)
    if _depth(item) > limit:
        with pytest.raises(ValueError, match=f"deeper than {limit}"):
            check_rlp_depth(data, limit)
    else:
        check_rlp_depth(data, limit)


def test_long_strings_and_lists_are_skipped_by_their_length():
    wide = rlp.encode([b"x" * 70_000, [b"y" * 60] * 2_000, [[[]]]])
    check_rlp_depth(wide, 4)
    with pytest.raises(ValueError):
        check_rlp_depth(wide, 3)


def test_deep_nesting_is_refused_before_the_native_decoder_sees_it():
    item: list[object] = []
    for _ in range(MAX_RLP_DEPTH):
        item = [item]
    with pytest.raises(ValueError, match="nested deeper"):
        Block.decode(rlp.encode(item))
    with pytest.raises(ValueError, match="nested deeper"):
        decode_transaction(b"\x02" + rlp.encode(item))


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', '"\\ud800"', "[1,]"])
def test_json_that_strict_parsers_refuse_is_refused(text):
    with pytest.raises(ValueError, match="invalid JSON"):
        load_json(text)


def test_json_deeper_than_1024_levels_is_refused():
    assert load_json("[" * 1000 + "]" * 1000) is not None
    with pytest.raises(ValueError, match="depth"):
        load_json("[" * 1100 + "]" * 1100)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_block_decoding_of_any_bytes_decodes_or_says_why(data):
    with contextlib.suppress(ValueError):
        Block.decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_transaction_decoding_of_any_bytes_decodes_or_says_why(data):
    with contextlib.suppress(ValueError):
        decode_transaction(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
requests = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "1.0"]), "method": st.sampled_from(["echo", "boom", "x"])},
    optional={"id": json_values, "params": json_values},
)


def _dispatcher() -> Dispatcher:
    def boom(params: list[object]) -> object:
        raise KeyError("a handler bug")

    return Dispatcher({"echo": lambda params: params, "boom": boom})


@settings(max_examples=300, deadline=None)
@given(st.one_of(requests, st.lists(requests, max_size=5), json_values))
def test_the_dispatcher_answers_any_json_with_json(request):
    answer = _dispatcher().handle(json.dumps(request).encode())
    if answer is not None:
        parsed = json.loads(answer)
        for response in parsed if isinstance(parsed, list) else [parsed]:
            assert ("result" in response) != ("error" in response)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_the_dispatcher_answers_any_bytes_with_json(body):
    answer = _dispatcher().handle(body)
    assert answer is None or json.loads(answer)


@given(st.lists(nested, min_size=1, max_size=4))
def test_the_first_item_is_found_from_the_prefixes_alone(items):
    assert first_list_item(rlp.encode(items), 10**6) == rlp.encode(items[0])


def test_a_first_item_too_long_is_refused_from_its_prefix():
    """A block whose "header" is 2 MB of one-byte items: refused from the length
    prefix, before anything decodes the item (decoding it cost seconds and MBs)."""
    data = rlp.encode([[b"\x01"] * 2_000_000, []])
    with pytest.raises(ValueError, match="at most 1024"):
        first_list_item(data, 1024)
    with pytest.raises(ValueError, match="at most 1024"):
        Block.header_of(data)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xc0", b"\xc3\x82\x01", b"\xf9\x01"])
def test_no_first_item_of_what_is_no_list_or_runs_short(data):
    with pytest.raises(ValueError):
        first_list_item(data, 1024)
