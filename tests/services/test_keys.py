"""Every testnet has a miner key and a join token of its own: made at the first start,
never on a command line, not the public development key, kept across restarts with
the members that registered; validators read the miner's address from the file the
miner writes."""

import json
import os
import signal
import stat
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from common.chain.accounts import dev_accounts, mnemonic_wallets, sign
from common.chain.state import ChainConfig
from common.evm.gas_schedule import DEFAULT_FILE
from common.net.keyfile import read_address, read_token
from common.net.membership import HEARTBEAT, Registration
from common.rpc.client import call
from common.store.chain import ChainStore
from common.store.kv import LmdbDB
from loadtest.testnet import process as testnet
from tests.services.helpers import all_agree, start_testnet, wait_for
from validator.__main__ import cli as validator_cli

DEV_KEY_100 = mnemonic_wallets(1, offset=100)[0]
"""The key the miner used by default before it made its own."""


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    started = []
    try:
        for name in ("one", "two"):
            started.append(start_testnet(tmp_path_factory.mktemp(name), validators=1, workers=1))
        yield started
    finally:
        for net in started:
            testnet.down(net)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_each_network_has_its_own_secret_miner_key(nets):
    addresses = []
    for net in nets:
        key_file = Path(net.data_dir) / "miner" / "miner.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key_hex = key_file.read_text().strip()
        address = read_address(Path(net.data_dir) / testnet.MINER_ADDRESS_FILE)
        info = call(net.miner.url, "pavm_nodeInfo")
        assert info["address"] == "0x" + address.hex()
        assert call(net.validators[0].url, "pavm_nodeInfo")["miner"] == info["address"]
        token_file = Path(net.data_dir) / testnet.JOIN_TOKEN_FILE
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        for node in net.nodes:
            assert key_hex not in _cmdline(node.pid)
            assert token_file.read_text().strip() not in _cmdline(node.pid)
        addresses.append(address)
    assert addresses[0] != addresses[1]
    assert DEV_KEY_100.address not in addresses


def test_the_miner_keeps_its_key_and_its_members_across_a_restart(nets):
    net = nets[0]
    before = call(net.miner.url, "pavm_nodeInfo")
    assert before["members"] == ["validator-1"]
    testnet.down(net)
    testnet.restart(net, "miner")
    testnet.wait_healthy(net.miner.url, net.miner.pid)
    after = call(net.miner.url, "pavm_nodeInfo")
    assert after["address"] == before["address"]
    assert after["members"] == before["members"] and after["peers"] == before["peers"]
    testnet.restart(net, "validator-1")
    testnet.wait_healthy(net.validators[0].url, net.validators[0].pid)


def test_a_validator_without_the_miners_address_says_so(tmp_path):
    result = CliRunner().invoke(validator_cli, ["--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())
    assert "give the miner's address: --miner-address or --miner-address-file" in said


def test_a_validator_the_miner_does_not_know_registers_again_and_resends(nets):
    """Verdicts the miner refuses as not from the member of that name (one that overtook
    its registration, or after the member's entry changed) are kept; the validator
    registers again and resends, so every block still ends with its verdict. Here an
    insider with the join token re-registers validator-1's name under another key."""
    net = nets[1]
    token = read_token(Path(net.data_dir) / testnet.JOIN_TOKEN_FILE)
    hijack = Registration.make("validator-1", b"\x0b" * 32, "", token)
    assert httpx.post(net.miner.url + "/validators", json=hijack.to_json()).status_code == 200
    wallet = dev_accounts(2)[1]
    raw = sign(wallet, 0, b"\x42" * 20, config=ChainConfig(), value=1, gas=21_000)
    tx_hash = call(net.miner.url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    receipt = wait_for(lambda: call(net.miner.url, "eth_getTransactionReceipt", [tx_hash]))
    block = int(receipt["blockNumber"], 16)
    wait_for(lambda: (all_agree(net) or 0) >= block, timeout=90, what="the verdict resent")


def test_a_validator_registers_again_at_once_when_the_miner_returns_without_it(nets):
    """The miner comes back from a stop having lost the member (its entry deleted from
    the store while it was down): the validator saw it unreachable and registers again
    well before its next heartbeat, so pushes and verdicts go on."""
    net = nets[0]
    os.kill(net.miner.pid, signal.SIGTERM)
    os.waitpid(net.miner.pid, 0)  # the test started it: wait for it to exit
    db = LmdbDB(Path(net.data_dir) / "miner" / "chain")
    ChainStore(db).forget_member("validator-1")
    db.close()
    testnet.restart(net, "miner")
    testnet.wait_healthy(net.miner.url, net.miner.pid)
    started = time.monotonic()
    wait_for(
        lambda: call(net.miner.url, "pavm_nodeInfo")["members"] == ["validator-1"] or None,
        timeout=HEARTBEAT / 2,
        what="validator-1 registered again",
    )
    assert time.monotonic() - started < HEARTBEAT / 2
    head = int(call(net.miner.url, "eth_blockNumber"), 16)
    wallet = dev_accounts(3)[2]
    raw = sign(wallet, 0, b"\x43" * 20, config=ChainConfig(), value=1, gas=21_000)
    call(net.miner.url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    wait_for(lambda: (all_agree(net) or 0) > head, timeout=60, what="a verdict after rejoining")


def test_a_validator_with_another_gas_schedule_refuses_to_join(nets, tmp_path):
    """Its block 0 is not the miner's (the schedule is a chain parameter), so it says
    so and does not start, instead of rejecting every block it is sent."""
    net = nets[0]
    schedule = tmp_path / "gas.json"
    data = json.loads(DEFAULT_FILE.read_text())
    data["instructions"]["SUBSOL"] += 1
    schedule.write_text(json.dumps(data))
    result = CliRunner().invoke(
        validator_cli,
        [
            "--data-dir",
            str(tmp_path / "v"),
            "--miner-url",
            net.miner.url,
            "--miner-address-file",
            str(Path(net.data_dir) / testnet.MINER_ADDRESS_FILE),
            "--join-token-file",
            str(Path(net.data_dir) / testnet.JOIN_TOKEN_FILE),
            "--gas-schedule",
            str(schedule),
        ],
    )
    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())
    assert f"the miner at {net.miner.url} has block 0" in said
    assert "give every node the same files" in said
