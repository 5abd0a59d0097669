"""Golden vectors and canonical round trips for the header, block and R/W set encodings."""

import json
from pathlib import Path

import pytest
import rlp
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_hash.auto import keccak
from hypothesis import given
from hypothesis import strategies as st

from common.chain.accounts import address_of
from common.chain.block import Block, Header
from common.chain.rwset import AccountWrite, TxRWSet, block_rwset_encoding, decode_block_rwsets
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


def test_the_seal_signs_the_header_without_it_and_the_hash_covers_it():
    """Clique's rule: the seal is the last 65 bytes of extraData and signs the header
    without them; the block hash is keccak(rlp(header)) with the seal."""
    header = sample_header()
    fields = header.to_rlp()
    extra = fields[12]
    assert isinstance(extra, bytes) and len(extra) == 96 + 65 and extra.endswith(header.seal)
    assert header.hash == keccak(rlp.encode(fields))
    fields[12] = extra[:96]
    unsealed = Header.from_rlp(rlp.decode(rlp.encode(fields)))
    assert unsealed.signer() is None and unsealed.hash == header.seal_hash != header.hash
    assert unsealed.signed_by(KEY) == header


def test_the_header_is_a_prague_header_to_py_evm():
    """Unmodified py-evm decodes the header as its own Prague header, with the same hash."""
    header = sample_header()
    theirs = rlp.decode(rlp.encode(header.to_rlp()), sedes=PragueBlockHeader)
    assert theirs.hash == header.hash
    assert (theirs.state_root, theirs.receipt_root, theirs.bloom) == (
        header.state_root,
        header.receipts_root,
        int.from_bytes(header.logs_bloom, "big"),
    )
    assert theirs.extra_data == header.extra_data and theirs.base_fee_per_gas == header.base_fee


def test_fields_pavm_fixes_are_checked():
    fields = sample_header().to_rlp()
    fields[7] = b"\x01"  # difficulty
    with pytest.raises(ValueError, match="field 7"):
        Header.from_rlp(rlp.decode(rlp.encode(fields)))
    fields = sample_header().to_rlp()
    extra_data = fields[12]
    assert isinstance(extra_data, bytes)
    fields[12] = extra_data[:100]  # extraData of neither size
    with pytest.raises(ValueError, match="extraData"):
        Header.from_rlp(rlp.decode(rlp.encode(fields)))


def test_non_canonical_inputs_are_refused():
    block = bytes.fromhex(GOLDEN["block"])
    items = rlp.decode(block)
    items[0][8] = b"\x00\x07"  # block number with a leading zero
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
