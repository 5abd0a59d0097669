"""A node's key file: made once with mode 0600, reused, refused when others may read it
or when it holds no key; the address file the validators read."""

import os
import stat

import pytest

from common.chain.accounts import address_of
from common.errors import PavmError
from common.net.keyfile import load_or_create_key, parse_address, read_address, write_address


def test_a_key_is_made_once_readable_by_its_owner_only_and_then_reused(tmp_path):
    path = tmp_path / "deep" / "miner.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    assert load_or_create_key(tmp_path / "other.key") != key


def test_a_key_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / "miner.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(PavmError, match="chmod 600"):
        load_or_create_key(path)


@pytest.mark.parametrize("content", ["", "zz", "00" * 32, "ff" * 32, "12" * 20])
def test_a_key_file_without_a_valid_key_is_refused(tmp_path, content):
    path = tmp_path / "miner.key"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(PavmError, match="holds no secp256k1 key"):
        load_or_create_key(path)


def test_the_address_file_carries_the_keys_address(tmp_path):
    key = load_or_create_key(tmp_path / "miner.key")
    write_address(tmp_path / "net" / "miner.address", key)
    assert read_address(tmp_path / "net" / "miner.address") == address_of(key)
    assert not list((tmp_path / "net").glob("*.partial"))


def test_a_missing_or_malformed_address_is_an_error_naming_it(tmp_path):
    with pytest.raises(PavmError, match="no miner address file"):
        read_address(tmp_path / "absent", timeout=0.3)
    with pytest.raises(PavmError, match="--miner-address: expected a 20-byte"):
        parse_address("0x1234", "--miner-address")
