"""Golden vectors and canonical round trips for the header, block and R/W set encodings."""

import json
from pathlib import Path

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from common.accounts import address_of
from common.block import Block, Header
from common.rwset import AccountWrite, TxRWSet, block_rwset_encoding, decode_block_rwsets
from tests.vectors.make import KEY, sample_header, sample_rwsets, vectors

GOLDEN = json.loads((Path(__file__).parent / "vectors" / "encodings.json").read_text())


def test_encodings_match_golden_vectors():
    assert vectors() == GOLDEN


def test_golden_block_decodes_to_the_same_block():
    block = Block.decode(bytes.fromhex(GOLDEN["block"]))
    assert block.header == sample_header()
    assert list(block.rwsets) == sample_rwsets()
    assert block.header.hash.hex() == GOLDEN["header_hash"]

    assert block.header.signer() == address_of(KEY)


def test_signature_is_not_part_of_the_hash():
    header = sample_header()
    unsigned = Header.from_rlp(rlp.decode(rlp.encode([*header.to_rlp()[:-1], b""])))
    assert unsigned.hash == header.hash and unsigned.signer() is None


def test_non_canonical_inputs_are_refused():
    block = bytes.fromhex(GOLDEN["block"])
    items = rlp.decode(block)
    items[0][1] = b"\x00\x07"  # block number with a leading zero
    with pytest.raises(ValueError, match="canonical"):
        Block.decode(rlp.encode(items))
    rwsets = rlp.decode(bytes.fromhex(GOLDEN["rwsets"]))
    rwsets[0][0].reverse()  # reads no longer sorted by address
    with pytest.raises(ValueError, match="canonical"):
        decode_block_rwsets(rlp.encode(rwsets))
    with pytest.raises(ValueError):
        Block.decode(block[:-1])


addresses = st.binary(min_size=20, max_size=20)
uint = st.integers(0, 2**256 - 1)
writes = st.builds(
    AccountWrite,
    flags=st.integers(0, 63),
    balance=uint,
    nonce=st.integers(0, 2**64 - 1),
    code=st.binary(max_size=40),
    storage=st.dictionaries(uint, uint, max_size=3),
)
rwset_strategy = st.builds(
    TxRWSet,
    reads=st.dictionaries(
        addresses,
        st.tuples(
            st.integers(0, 15), st.lists(uint, max_size=3, unique=True).map(sorted).map(tuple)
        ),
        max_size=3,
    ),
    writes=st.dictionaries(addresses, writes, max_size=3),
    reads_beneficiary=st.booleans(),
)


@given(st.lists(rwset_strategy, max_size=4))
def test_rwsets_round_trip(rwsets):
    encoding = block_rwset_encoding(rwsets)
    assert decode_block_rwsets(encoding) == rwsets


@given(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(st.integers(0, len(GOLDEN["block"]) // 2 - 1), st.integers(0, 255)).map(
            lambda edit: _flip(bytes.fromhex(GOLDEN["block"]), *edit)
        ),
    )
)
def test_if_a_block_decodes_it_re_encodes_to_the_same_bytes(data):
    """geth's RLP fuzzing property, on random bytes and on one-byte edits of a real block."""
    try:
        block = Block.decode(data)
    except ValueError:
        return
    assert block.encode() == data


def _flip(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + bytes([value]) + data[position + 1 :]
