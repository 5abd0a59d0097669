"""Membership: registrations prove the join token over every field they carry, verdict
signatures cover every field that says something, push URLs are scheme://host:port."""

from dataclasses import replace

import pytest

from common.chain.accounts import address_of
from common.net.membership import Registration, normal_url
from common.net.transport import Verdict
from tests.signing import high_s_twin

TOKEN = b"t" * 32
KEY = b"\x03" * 32


def test_a_registration_proves_the_token_over_its_own_fields():
    registration = Registration.make("validator-1", KEY, "http://10.0.0.5:8546/", TOKEN)
    assert registration.url == "http://10.0.0.5:8546"
    assert registration.address == address_of(KEY)
    parsed = Registration.from_json(registration.to_json())
    assert parsed == registration and parsed.proves(TOKEN)
    assert not parsed.proves(b"u" * 32)
    for field, other in (("name", "validator-2"), ("url", "http://10.0.0.6:8546")):
        forged = Registration.from_json({**registration.to_json(), field: other})
        assert not forged.proves(TOKEN)


def test_a_verdict_signature_covers_every_field_the_miner_keeps():
    verdict = Verdict("validator-1", 7, "0x" + "ab" * 32, False, "state_root_mismatch", 12.5)
    signed = verdict.signed_by(KEY)
    assert signed.signer() == address_of(KEY)
    assert Verdict.from_json(signed.to_json()).signer() == address_of(KEY)
    for field, other in (
        ("validator", "validator-2"),
        ("number", 8),
        ("block_hash", "0x" + "cd" * 32),
        ("agree", True),
        ("reason", ""),
        ("validation_ms", 99.0),
    ):
        changed = Verdict.from_json({**signed.to_json(), field: other})
        assert changed.signer() != address_of(KEY)
    same = Verdict.from_json({**signed.to_json(), "validation_ms": 12.5})
    assert same.signer() == address_of(KEY)


def test_a_verdict_has_one_form_only():
    """An integral time written without its fraction would sign as the float does:
    refused, so no second spelling of a signed verdict exists."""
    signed = Verdict("validator-1", 7, "0x" + "ab" * 32, True, "", 5.0).signed_by(KEY)
    with pytest.raises(ValueError, match="validation_ms"):
        Verdict.from_json({**signed.to_json(), "validation_ms": 5})
    with pytest.raises(ValueError, match="validation_ms"):
        Verdict.from_json({**signed.to_json(), "validation_ms": True})


def test_a_high_s_twin_of_a_verdict_signature_is_refused():
    signed = Verdict("validator-1", 7, "0x" + "ab" * 32, True, "", 3.0).signed_by(KEY)
    twin = replace(signed, signature="0x" + high_s_twin(bytes.fromhex(signed.signature[2:])).hex())
    assert twin.signature != signed.signature
    assert twin.signer() is None


@pytest.mark.parametrize(
    "url, normal",
    [
        ("http://127.0.0.1:8546", "http://127.0.0.1:8546"),
        ("https://node.example:443/", "https://node.example:443"),
        ("http://[::1]:8546", "http://[::1]:8546"),
    ],
)
def test_push_urls_are_kept_as_scheme_host_port(url, normal):
    assert normal_url(url) == normal


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1",
        "http://127.0.0.1:8546/blocks",
        "http://127.0.0.1:8546?x=1",
        "http://127.0.0.1:8546#f",
        "http://user:pw@127.0.0.1:8546",
        "ftp://127.0.0.1:21",
        "http://127.0.0.1:99999",
        "127.0.0.1:8546",
    ],
)
def test_anything_more_or_less_than_scheme_host_port_is_refused(url):
    with pytest.raises(ValueError, match="scheme://host:port"):
        normal_url(url)
