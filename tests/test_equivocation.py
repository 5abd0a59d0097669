"""An equivocating miner and a stranger's high-s twin, against a real miner over HTTP
and a validator node in process (invariant 6, docs/architecture.md).

The miner's key is a test key, and a second ``MinerNode`` holding it (another data
directory, as a miner restarted on lost data would be) seals a second, different
block 1: a real second seal, not a mock. The validator takes no pushes from the
miner (it registers no URL) and looks at the miner's head once an hour, so the test
decides which copy of each block reaches it first, as an attacker who keeps its
inbox busy would.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from common.chain.accounts import address_of, dev_accounts, sign
from common.chain.block import Block
from common.chain.state import ChainConfig
from common.rpc.client import call
from miner.node import MinerNode
from tests.nodes import held_miner, offline_validator, served
from tests.services.helpers import wait_for
from tests.signing import high_s_twin
from validator.app import rpc_methods
from validator.node import ValidatorNode

MINER_KEY = b"\x0b" * 32
TOKEN = b"j" * 32
ALICE, BOB = dev_accounts(2)


@dataclass
class Network:
    miner: MinerNode
    url: str
    validator: ValidatorNode


def _miner(data_dir: Path) -> MinerNode:
    return held_miner(data_dir, key=MINER_KEY, block_txs=300, join_token=TOKEN)


def _validator(data_dir: Path, url: str) -> ValidatorNode:
    return offline_validator(
        data_dir,
        miner_address=address_of(MINER_KEY),
        miner_url=url,
        key=b"\x0c" * 32,
        join_token=TOKEN,
        poll_interval=3600,
    )


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> Iterator[Network]:
    miner = _miner(tmp_path_factory.mktemp("miner"))
    with served(miner) as (url, _, _):
        validator = _validator(tmp_path_factory.mktemp("validator"), url)
        validator.start()
        try:
            yield Network(miner, url, validator)
        finally:
            validator.stop()


def _at(net: Network, block: Block) -> bool:
    head = net.validator.validator.state.head
    return head.number == block.header.number and head.hash == block.hash


def _verdict_on(net: Network, block: Block) -> dict[str, object] | None:
    number = hex(block.header.number)
    verdicts: list[dict[str, object]] = call(net.url, "pavm_getVerdicts", [number])
    for verdict in verdicts:
        if verdict["validator"] == "v1" and verdict["block_hash"] == "0x" + block.hash.hex():
            return verdict
    return None


def _evidence(net: Network) -> set[tuple[int, str, str]]:
    _, methods = rpc_methods(net.validator.store, net.validator.lock, dict)
    return {
        (int(e["number"], 16), e["heldHash"], e["otherHash"])
        for e in methods["pavm_getEquivocations"]([])
    }


def test_a_second_miner_with_the_key_forks_nobody_for_good(net, tmp_path):
    """A block 1 sealed by a second miner holding the key reaches the validator first
    and is accepted (it is valid); then the miner's own block 1 arrives: the validator
    keeps both headers as evidence, rewinds, and follows the miner's chain."""
    config = ChainConfig()
    second = _miner(tmp_path / "second")
    try:
        second.submit(sign(ALICE, 0, BOB.address, config=config, value=10**18))
        theirs = second.mine_now()
    finally:
        second.stop()
    assert len(theirs.transactions) == 1 and theirs.header.signer() == address_of(MINER_KEY)
    net.validator.receive(theirs.encode())
    wait_for(lambda: _at(net, theirs), what="the second miner's block 1 accepted")

    ours = net.miner.mine_now()
    assert ours.header.number == 1 and ours.hash != theirs.hash
    net.validator.receive(ours.encode())
    wait_for(lambda: _at(net, ours), what="the validator following the miner's block 1")

    assert (1, "0x" + theirs.hash.hex(), "0x" + ours.hash.hex()) in _evidence(net)
    store = net.validator.store
    assert store.orphan(theirs.hash) == theirs
    assert store.transaction_location(bytes(keccak(theirs.transactions[0]))) is None
    assert net.validator.rewinds == 1
    wait_for(lambda: _verdict_on(net, ours), what="the verdict on the miner's block 1")
    assert _verdict_on(net, ours)["agree"] is True  # type: ignore[index]


def test_a_twin_under_the_next_block_is_left_for_the_chain_the_miner_continues(net):
    """The validator holds a re-sealed twin of block N when the miner's block N+1
    arrives: N+1 does not extend it, the miner's chain says N is another block, and
    the validator rewinds to N-1 and validates the miner's N and N+1."""
    block = net.miner.mine_now()
    twin_header = replace(block.header, timestamp=block.header.timestamp + 1, seal=b"")
    twin = replace(block, header=twin_header.signed_by(MINER_KEY))
    net.validator.receive(twin.encode())
    wait_for(lambda: _at(net, twin), what="the twin accepted")

    child = net.miner.mine_now()
    net.validator.receive(child.encode())
    wait_for(lambda: _at(net, child), what="the validator on the miner's chain again")
    number = block.header.number
    assert net.validator.store.block(number) == block
    assert (number, "0x" + twin.hash.hex(), "0x" + block.hash.hex()) in _evidence(net)
    for mined in (block, child):
        wait_for(partial(_verdict_on, net, mined), what="verdicts on the miner's blocks")


def test_a_high_s_twin_is_dropped_before_any_work_and_the_miner_block_follows(net):
    """The malleated seal recovers the miner's address to plain ECDSA, but the
    validator drops it for its seal alone, and takes the real block after it."""
    block = net.miner.mine_now()
    twin = replace(block, header=replace(block.header, seal=high_s_twin(block.header.seal)))
    before = net.validator.dropped["non_canonical_seal"]
    head = net.validator.head
    net.validator.receive(twin.encode())
    wait_for(
        lambda: net.validator.dropped["non_canonical_seal"] == before + 1,
        what="the twin dropped",
    )
    assert net.validator.head == head
    net.validator.receive(block.encode())
    wait_for(lambda: _at(net, block), what="the miner's block accepted")


def test_a_sealed_header_far_ahead_does_not_make_the_validator_wait_for_it(net):
    """What the validator waits for is the head the miner reports: a sealed block
    numbered far beyond it (only the key holder can make one) leaves /health alone."""
    block = net.miner.mine_now()
    net.validator.receive(block.encode())
    wait_for(lambda: _at(net, block), what="the miner's block accepted")
    far = replace(block.header, number=2**62, seal=b"").signed_by(MINER_KEY)
    net.validator.receive(replace(block, header=far).encode())
    wait_for(lambda: net.validator._inbox.empty(), what="the far block taken in")
    time.sleep(0.5)
    assert net.validator.known_head == block.header.number and net.validator.synced


def test_a_restarted_validator_is_still_on_the_miner_chain_with_its_evidence(net, tmp_path):
    node = net.validator
    head, evidence = node.validator.state.head, _evidence(net)
    assert len(evidence) == 2
    node.stop()
    time.sleep(0.2)
    net.validator = _validator(node.settings.data_dir, net.url)
    net.validator.start()
    assert net.validator.validator.state.head == head
    assert _evidence(net) == evidence and net.validator.equivocations == 2
    for number in range(1, head.number + 1):
        mined = net.miner.store.block(number)
        assert mined is not None and net.validator.store.block(number) == mined
