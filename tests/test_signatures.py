"""Signatures are canonical (invariant 6, docs/architecture.md): each signed message
has exactly one valid signature, so a high-s twin of a block seal or a verdict, which
plain ECDSA accepts for the same key, is refused."""

from dataclasses import replace

from eth_hash.auto import keccak
from eth_keys import keys
from hypothesis import given, settings
from hypothesis import strategies as st

from common.chain.accounts import address_of
from common.chain.block import Block
from common.chain.signatures import HALF_N, problem, recover, sign
from tests.signing import high_s_twin
from tests.vectors.make import KEY, sample_header

keys_st = st.integers(min_value=1, max_value=2**255).map(lambda k: k.to_bytes(32, "big"))


@settings(max_examples=40, deadline=None)
@given(key=keys_st, message=st.binary(max_size=64))
def test_signing_always_gives_the_low_s_form_and_only_it_recovers(key, message):
    digest = bytes(keccak(message))
    signature = sign(digest, key)
    assert int.from_bytes(signature[32:64], "big") <= HALF_N
    assert recover(digest, signature) == address_of(key)
    twin = high_s_twin(signature)
    # plain ECDSA takes the twin for the same key; the network does not
    plain = keys.Signature(twin).recover_public_key_from_msg_hash(digest)
    assert plain.to_canonical_address() == address_of(key)
    assert recover(digest, twin) is None
    assert "high-s" in problem(twin)


def test_malformed_signatures_name_their_problem():
    signature = sign(bytes(32), KEY)
    assert problem(signature) == ""
    assert "65 bytes" in problem(signature[:64])
    assert "v must be" in problem(signature[:64] + b"\x1b")
    assert "r out of range" in problem(bytes(32) + signature[32:])
    assert recover(bytes(32), signature[:64] + b"\x1b") is None


def test_a_high_s_twin_of_a_seal_recovers_no_signer_and_would_be_another_block():
    header = sample_header()
    assert header.signer() == address_of(KEY) and header.seal_problem() == ""
    twin = replace(header, seal=high_s_twin(header.seal))
    assert twin.hash != header.hash  # the block hash covers the seal
    assert twin.signer() is None
    assert "high-s" in twin.seal_problem()
    block = Block(twin, (), (), (), ())
    assert Block.decode(block.encode()).header.signer() is None
