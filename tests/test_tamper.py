"""A lying or broken miner is caught: each tampering is rejected with its own reason.

Tampered blocks are re-signed with the miner's key (a lying miner) unless the case
is about the signature, so each check is reached on its own. After every rejection
the validator still accepts the honest block.
"""

from dataclasses import replace

import pytest

from common.chain.accounts import address_of
from common.chain.block import Block
from common.chain.grouping import groups_encoding, groups_hash
from common.chain.receipts import op_receipts_root
from common.chain.roots import trie_root
from common.chain.rwset import AccountWrite, TxRWSet, block_rwset_encoding, rwset_hash
from loadtest.workloads.contracts import load
from tests.conftest import MINER, MINER_KEY, Chain
from validator.strategies import STRATEGIES
from validator.validate import BODY_MISMATCH, InvalidBlock, Validator

PROBE = load("probe")
ERC20 = load("erc20")


def reseal(block: Block, key: bytes = MINER_KEY, **changes) -> Block:
    """Rebuild the header over a changed body (and header fields) and sign it."""
    rwsets = changes.pop("rwsets", block.rwsets)
    groups = changes.pop("groups", block.groups)
    group_gas = changes.pop("group_gas", block.group_gas)
    header = replace(
        block.header,
        rwset_hash=rwset_hash(block_rwset_encoding(rwsets)),
        groups_hash=groups_hash(groups_encoding(groups, group_gas)),
        **changes,
    ).signed_by(key)
    return Block(header, block.transactions, tuple(rwsets), tuple(groups), tuple(group_gas))


@pytest.fixture(scope="module")
def honest(deployed, people):
    """Block 3: two token transfers and two bumps of the probe's shared counter."""
    chain = Chain(deployed.state, dict(deployed.nonces))
    holder = "0x" + people[9].address.hex()
    txs = [
        chain.tx(people[1], deployed.token, data=ERC20.call_data("transfer", holder, 5)),
        chain.tx(people[2], deployed.probe, data=PROBE.call_data("bump")),
        chain.tx(people[3], deployed.probe, data=PROBE.call_data("bump")),
        chain.tx(people[4], deployed.token, data=ERC20.call_data("approve", holder, 9)),
    ]
    built = chain.mine(txs)
    assert built.block.groups == ((0,), (1, 2), (3,))
    return built.block


@pytest.fixture(scope="module", params=STRATEGIES)
def validator(deployed, request):
    """Every case under each strategy: each must reject with the same reason."""
    with Validator(deployed.state, MINER, workers=2, strategy=request.param) as v:
        yield v


def without_read_slot(rwset: TxRWSet) -> TxRWSet:
    reads = dict(rwset.reads)
    address = next(a for a, (_, slots) in reads.items() if slots)
    fields, slots = reads[address]
    reads[address] = (fields, slots[1:])
    return replace(rwset, reads=reads)


def without_storage_write(rwset: TxRWSet) -> TxRWSet:
    writes = dict(rwset.writes)
    address = next(a for a, w in writes.items() if w.storage)
    write = writes[address]
    storage = dict(write.storage)
    storage.pop(next(iter(storage)))
    writes[address] = AccountWrite(write.flags, write.balance, write.nonce, write.code, storage)
    return replace(rwset, writes=writes)


def with_rwset(block: Block, index: int, rwset: TxRWSet) -> Block:
    rwsets = list(block.rwsets)
    rwsets[index] = rwset
    return reseal(block, rwsets=rwsets)


def tamper_cases(block: Block) -> dict[str, tuple[Block, str, str]]:
    """name -> (tampered block, expected reason, text the detail must contain)."""

    stranger = b"\x22" * 32
    swapped = list(block.transactions)
    swapped[0], swapped[3] = swapped[3], swapped[0]
    bad_receipt = op_receipts_root([])  # what a miner gets by dropping/altering receipts
    split = reseal(block, groups=((0,), (1,), (2,), (3,)), group_gas=(1, 1, 1, 1))
    return {
        "omitted read": (
            with_rwset(block, 0, without_read_slot(block.rwsets[0])),
            "rwset_mismatch",
            "transaction 0: undeclared read",
        ),
        "omitted write": (
            with_rwset(block, 1, without_storage_write(block.rwsets[1])),
            "rwset_mismatch",
            "transaction 1: write of",
        ),
        "conflicting transactions split into two groups": (
            split,
            "conflicting_groups",
            "transaction 2",
        ),
        "altered operation receipt": (
            reseal(block, op_receipts_root=bad_receipt),
            "receipt_mismatch",
            "op_receipts_root",
        ),
        "altered standard receipts root": (
            reseal(block, receipts_root=trie_root([])),
            "receipt_mismatch",
            "receipts_root",
        ),
        "altered logs bloom": (
            reseal(block, logs_bloom=b"\xff" * 256),
            "receipt_mismatch",
            "logs_bloom",
        ),
        "altered state root": (
            reseal(block, state_root=b"\x01" * 32),
            "state_root_mismatch",
            "state root",
        ),
        "wrong signer": (
            reseal(block, key=stranger),
            "bad_signature",
            "0x" + address_of(stranger).hex(),
        ),
        "reordered transactions": (
            Block(block.header, tuple(swapped), block.rwsets, block.groups, block.group_gas),
            "transactions_root_mismatch",
            "transactions",
        ),
        "header changed after signing": (
            Block(replace(block.header, gas_used=1), *_body(block)),
            "bad_signature",
            "expected miner",
        ),
    }


def _body(block: Block):
    return block.transactions, block.rwsets, block.groups, block.group_gas


CASES = [
    "omitted read",
    "omitted write",
    "conflicting transactions split into two groups",
    "altered operation receipt",
    "altered standard receipts root",
    "altered logs bloom",
    "altered state root",
    "wrong signer",
    "reordered transactions",
    "header changed after signing",
]


@pytest.mark.parametrize("case", CASES)
def test_tampered_block_is_rejected_with_its_reason(validator, honest, case):
    tampered, reason, detail = tamper_cases(honest)[case]
    head = validator.state.head
    with pytest.raises(InvalidBlock) as caught:
        validator.validate(tampered)
    assert caught.value.reason == reason, caught.value
    assert detail in caught.value.detail, caught.value
    assert validator.state.head == head, "a rejected block leaves the validator where it was"


def test_split_groups_with_hidden_keys_is_caught_by_execution(validator, honest):
    """A liar who also drops the shared slot from the R/W sets is caught when executing."""
    rwsets = list(honest.rwsets)
    counter_write = next(a for a, w in rwsets[2].writes.items() if w.storage)
    for i in (1, 2):
        reads = {a: r for a, r in rwsets[i].reads.items() if a != counter_write}
        writes = {a: w for a, w in rwsets[i].writes.items() if a != counter_write}
        rwsets[i] = TxRWSet(reads, writes, rwsets[i].reads_beneficiary)
    lying = reseal(honest, rwsets=rwsets, groups=((0,), (1,), (2,), (3,)), group_gas=(1, 1, 1, 1))
    with pytest.raises(InvalidBlock) as caught:
        validator.validate(lying)
    assert caught.value.reason == "rwset_mismatch"
    assert caught.value.tx_index == 1
    assert "undeclared read of account 0x" + counter_write.hex() in caught.value.detail


def test_honest_block_accepted_after_rejections(validator, honest):
    """Runs last for each strategy: the validator recovered from every rejection above,
    and never accepted a block its strategy had rejected."""
    report = validator.validate(honest)
    assert validator.fallbacks == 0
    assert report.number == honest.header.number
    assert validator.state.head.hash == honest.hash


@pytest.mark.parametrize(
    "body",
    [
        lambda b: replace(b, transactions=b.transactions[:-1]),
        lambda b: replace(b, rwsets=b.rwsets[::-1]),
        lambda b: replace(b, groups=((0, 1, 2, 3),), group_gas=(sum(b.group_gas),)),
    ],
    ids=["transactions", "rwsets", "groups"],
)
def test_a_body_its_signed_header_does_not_commit_to_costs_no_worker(deployed, honest, body):
    """Someone swapped the body under the miner's real header: a bad message, caught
    before dispatch (BODY_MISMATCH), so the workers' replicas are not forked again."""
    with Validator(deployed.state, MINER, workers=1) as fresh:
        pids = fresh.workers.pids
        with pytest.raises(InvalidBlock) as caught:
            fresh.validate(body(honest))
        assert caught.value.reason in BODY_MISMATCH
        assert fresh.workers.pids == pids
        fresh.validate(honest)
