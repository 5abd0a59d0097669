"""Genesis files: defaults, a custom allocation, and errors that name the bad field."""

import json
from pathlib import Path

import pytest
from eth_typing import Address

from common.chain.genesis import DEV_BALANCE, default_genesis, load_genesis, parse_genesis
from common.chain.state import ChainConfig, ChainState
from common.errors import PavmError
from common.evm.gas_schedule import DEFAULT_FILE, INSTRUCTIONS


def test_default_genesis_funds_the_anvil_accounts():
    spec = default_genesis()
    anvil_first = bytes.fromhex("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    assert spec.config.chain_id == 31337 and len(spec.alloc) == 10
    assert spec.alloc[anvil_first].balance == DEV_BALANCE


def test_custom_genesis_file(tmp_path):
    path = tmp_path / "genesis.json"
    path.write_text(
        json.dumps(
            {
                "chainId": 777,
                "gasLimit": "0x1c9c380",
                "baseFee": 7,
                "alloc": {
                    "0x" + "11" * 20: {
                        "balance": "0x10",
                        "code": "0x6000",
                        "storage": {"0x1": "0x2a"},
                    }
                },
            }
        )
    )
    spec = load_genesis(path)
    assert (spec.config.chain_id, spec.config.gas_limit, spec.config.initial_base_fee) == (
        777,
        30_000_000,
        7,
    )
    account = spec.alloc[b"\x11" * 20]
    assert (account.balance, account.code, dict(account.storage)) == (16, b"\x60\x00", {1: 42})
    state = ChainState.genesis(spec.alloc, spec.config)
    assert state.account_db().get_storage(Address(b"\x11" * 20), 1) == 42


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "top level"),
        ({"chainId": -1}, "chainId"),
        ({"alloc": {"0x12": {}}}, "20 bytes"),
        ({"alloc": {"0x" + "11" * 20: {"balance": "lots"}}}, "balance"),
        ({"alloc": {"0x" + "11" * 20: {"code": "0xzz"}}}, "code"),
        ({"alloc": {"0x" + "11" * 20: {"balance": 1, "storage": []}}}, "storage"),
    ],
)
def test_bad_genesis_names_the_field(data, fragment):
    with pytest.raises(PavmError, match=fragment):
        parse_genesis(data)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(PavmError, match="does not exist"):
        load_genesis(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(PavmError, match="not valid JSON"):
        load_genesis(broken)


def _schedule(tmp_path: Path, section: str = "forkJoin", **changes: int) -> Path:
    data = json.loads(DEFAULT_FILE.read_text())
    data[section].update(changes)
    path = tmp_path / f"gas-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(data))
    return path


def test_the_gas_schedule_is_part_of_what_block_0_commits_to(tmp_path):
    """The default file, a copy of it, and a file with one figure changed: the first
    two make the same genesis, the third another (nodes given it refuse the others)."""
    default = ChainState.genesis(load_genesis(None).alloc, load_genesis(None).config)
    same = load_genesis(None, _schedule(tmp_path))
    other = load_genesis(None, _schedule(tmp_path, perCall=701))
    assert ChainState.genesis(same.alloc, same.config).head.hash == default.head.hash
    assert other.config.gas.fork_join.per_call == 701
    dearer = load_genesis(None, _schedule(tmp_path, "instructions", RPHASH=3))
    assert dearer.config.gas.instruction("RPHASH") == 3
    hashes = {ChainState.genesis(spec.alloc, spec.config).head.hash for spec in (other, dearer)}
    assert default.head.hash not in hashes and len(hashes) == 2
    assert ChainConfig.from_json(other.config.to_json()) == other.config


def test_the_fork_is_a_chain_parameter_and_a_bad_one_is_named(tmp_path):
    pavm = parse_genesis({})
    prague = parse_genesis({"fork": "prague"})
    assert (pavm.config.fork, prague.config.fork) == ("pavm", "prague")
    assert (
        ChainState.genesis(pavm.alloc, pavm.config).head.hash
        != ChainState.genesis(prague.alloc, prague.config).head.hash
    )
    with pytest.raises(PavmError, match="fork must be one of pavm, prague, got 'cancun'"):
        parse_genesis({"fork": "cancun"})


def _with(**sections: object) -> str:
    data = json.loads(DEFAULT_FILE.read_text())
    data.update(sections)
    return json.dumps(data)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('{"forkJoin": {"base": 1, "perCall": 2}, "instructions": {}}', "needs exactly"),
        (_with(forkJoin={"base": -1, "perCall": 2, "coldTarget": 3}), "forkJoin.base"),
        (_with(forkJoin={"base": 1, "perCall": True, "coldTarget": 3}), "forkJoin.perCall"),
        (_with(instructions={"SUBSOL": 1}), "instructions needs exactly SUBSOL, SLEEP"),
        (_with(instructions=dict.fromkeys(INSTRUCTIONS, 2**32)), "instructions.SUBSOL"),
        ('{"forkJoin": {}}', "top level"),
        ("{", "not valid JSON"),
    ],
)
def test_a_bad_gas_schedule_says_what_is_wrong(tmp_path, content, fragment):
    path = tmp_path / "gas.json"
    path.write_text(content)
    with pytest.raises(PavmError, match=fragment):
        load_genesis(None, path)
    with pytest.raises(PavmError, match="does not exist"):
        load_genesis(None, tmp_path / "missing.json")
