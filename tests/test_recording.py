"""The recorder sees every state access of every kind of transaction (invariant 2,
docs/architecture.md).

Each test mines one block with the probe contract, checks the miner's state root
against unmodified py-evm, and pins what the R/W set and the ops must contain.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.chain.accounts import ETHER, GWEI, Wallet, wallets
from common.chain.receipts import operation_hashes
from common.chain.rwset import BALANCE, CODE, EXISTS, NONCE, READ_BALANCE, WIPED
from common.evm.recording import OpKind
from loadtest.workloads.contracts import load
from tests.conftest import MINER, MINER_KEY, Chain

ROOT = Path(__file__).resolve().parent.parent

PROBE = load("probe")


def call(chain: Chain, wallet, to, function: str, *args, **kwargs):
    data = PROBE.call_data(function, *args)
    built = chain.mine([chain.tx(wallet, to, data=data, **kwargs)])
    return built.outcomes[0], built


def probe_slots(outcome, probe: bytes) -> dict[int, int]:
    write = outcome.rwset.writes.get(probe)
    return dict(write.storage) if write else {}


def test_storage_write_and_log(chain, deployed, people):
    outcome, _ = call(chain, people[1], deployed.probe, "set_value", 5, 77)
    assert outcome.receipt.status == 1
    assert list(probe_slots(outcome, deployed.probe).values()) == [77]
    (log,) = outcome.receipt.logs
    assert log[0] == deployed.probe and log[1][1][-20:] == people[1].address
    sender = outcome.rwset.writes[people[1].address]
    assert sender.flags & NONCE and sender.flags & BALANCE
    # The fee goes to the pooled beneficiary credit, not into this transaction's writes.
    assert MINER not in outcome.rwset.writes and MINER not in outcome.rwset.reads
    assert not outcome.rwset.reads_beneficiary


def test_reverted_transaction_keeps_reads_drops_writes(chain, deployed, people):
    outcome, _ = call(chain, people[1], deployed.probe, "set_then_revert", 9, 1)
    assert outcome.receipt.status == 0
    assert probe_slots(outcome, deployed.probe) == {}
    assert outcome.rwset.reads[deployed.probe][1], "the slot read before reverting counts"
    # The sender still pays and bumps its nonce.
    assert outcome.rwset.writes[people[1].address].flags & NONCE


def test_inner_revert_read_counts(chain, deployed, people):
    outcome, _ = call(chain, people[2], deployed.probe, "try_inner_revert", 11, 5)
    assert outcome.receipt.status == 1
    slots_read = set(outcome.rwset.reads[deployed.probe][1])
    slots_written = set(probe_slots(outcome, deployed.probe))
    # counter is written; values[11] was read (and written) only inside the reverted call.
    assert len(slots_written) == 1
    assert len(slots_read - slots_written) == 1


def test_out_of_gas(chain, deployed, people):
    outcome, _ = call(chain, people[3], deployed.probe, "burn_gas", 1000, gas=150_000)
    assert outcome.receipt.status == 0
    assert outcome.receipt.gas_used == 150_000
    assert probe_slots(outcome, deployed.probe) == {}
    assert len(outcome.rwset.reads[deployed.probe][1]) >= 2


def test_transient_storage_is_local(chain, deployed, people):
    outcome, _ = call(chain, people[4], deployed.probe, "transient_sum", 3, 40, 2)
    assert list(probe_slots(outcome, deployed.probe).values()) == [42]
    kinds = [op[0] for op in outcome.ops]
    assert OpKind.READ_TRANSIENT in kinds and OpKind.WRITE_TRANSIENT in kinds
    # TSTORE/TLOAD are in neither the reads nor the writes of the R/W set...
    assert set(outcome.rwset.reads[deployed.probe][1]) == set(probe_slots(outcome, deployed.probe))
    # ...but they are part of the operation hashes.
    without = [
        op for op in outcome.ops if op[0] not in (OpKind.READ_TRANSIENT, OpKind.WRITE_TRANSIENT)
    ]
    r_hash, w_hash = operation_hashes(without)
    assert r_hash != outcome.receipt.read_hash and w_hash != outcome.receipt.write_hash
    assert operation_hashes(outcome.ops) == (outcome.receipt.read_hash, outcome.receipt.write_hash)


def test_coinbase_reader_is_marked(chain, deployed, people):
    first = chain.tx(people[5], deployed.probe, data=PROBE.call_data("bump"))
    reader = chain.tx(people[6], deployed.probe, data=PROBE.call_data("read_coinbase", 4))
    built = chain.mine([first, reader])
    a, b = built.outcomes
    assert not a.rwset.reads_beneficiary and b.rwset.reads_beneficiary
    assert b.rwset.reads[MINER][0] & READ_BALANCE
    # The reader saw the credit of the earlier transaction: it is in one group with it.
    assert built.block.groups == ((0, 1),)


def test_value_transfer_to_fresh_account(chain, deployed, people):
    fresh = wallets(1, offset=5000)[0].address
    outcome, _ = call(chain, people[7], deployed.probe, "pay", "0x" + fresh.hex(), value=12345)
    write = outcome.rwset.writes[fresh]
    assert write.flags & EXISTS and write.balance == 12345


def test_create2_and_selfdestruct(chain, deployed, people):
    heir = wallets(1, offset=6000)[0].address
    salt = b"\x07" * 32
    outcome, _ = call(
        chain,
        people[8],
        deployed.probe,
        "clone_and_destroy",
        salt,
        "0x" + heir.hex(),
        gas=2_000_000,
    )
    assert outcome.receipt.status == 1
    wiped = {a for a, w in outcome.rwset.writes.items() if w.flags & WIPED}
    # The child was created and destroyed in the same transaction (EIP-6780); the heir
    # received a zero balance and was removed again as an empty touched account (EIP-161).
    assert heir in wiped and len(wiped - {heir}) == 1
    outcome, _ = call(chain, people[8], deployed.probe, "clone", b"\x08" * 32, gas=2_000_000)
    child = [a for a, w in outcome.rwset.writes.items() if w.flags & CODE]
    assert len(child) == 1 and outcome.rwset.writes[child[0]].nonce == 1


def test_contract_creation_transaction(chain, people):
    tx = chain.tx(people[9], None, data=PROBE.deploy_data(), gas=3_000_000)
    built = chain.mine([tx])
    outcome = built.outcomes[0]
    created = [a for a, w in outcome.rwset.writes.items() if w.flags & CODE]
    assert len(created) == 1
    assert outcome.rwset.writes[created[0]].code


def test_precompile(chain, deployed, people):
    import hashlib

    outcome, _ = call(chain, people[10], deployed.probe, "hash_it", 2, b"pavm")
    assert outcome.receipt.status == 1
    expected = int.from_bytes(hashlib.sha256(b"pavm").digest(), "big")
    assert list(probe_slots(outcome, deployed.probe).values()) == [expected]


@pytest.mark.parametrize("tip", [0, 10**9])
def test_fee_credit_matches_reference(chain, people, tip):
    """Pooled fee credits give py-evm's state root, with and without a priority fee."""
    txs = [chain.tx(w, people[0].address, value=ETHER, gas=21_000, tip=tip) for w in people[1:4]]
    chain.mine(txs)


def test_selfdestruct_of_an_older_contract_only_moves_its_balance(chain, people):
    """EIP-6780 (Cancun on): SELFDESTRUCT deletes only a contract created in the same tx."""
    deploy = chain.tx(people[9], None, data=PROBE.deploy_data(), gas=3_000_000, value=777)
    built = chain.mine([deploy])
    (victim,) = [a for a, w in built.outcomes[0].rwset.writes.items() if w.flags & CODE]
    heir = wallets(1, offset=6100)[0].address
    outcome, _ = call(chain, people[9], victim, "destroy", "0x" + heir.hex())
    assert outcome.receipt.status == 1
    assert not outcome.rwset.writes[victim].flags & WIPED
    assert outcome.rwset.writes[victim].balance == 0
    assert outcome.rwset.writes[heir].balance == 777


def test_miner_sending_a_transaction_reads_the_beneficiary(chain, people):
    """A transaction from the coinbase itself follows every earlier one (invariant 4,
    docs/architecture.md)."""
    miner_wallet = Wallet(MINER_KEY)
    assert miner_wallet.address == MINER
    earlier = [chain.tx(w, people[0].address, value=1, gas=21_000) for w in people[1:3]]
    chain.mine(earlier)  # the miner earns fees to spend
    first = [chain.tx(w, people[0].address, value=1, gas=21_000) for w in people[3:5]]
    spend = chain.tx(
        miner_wallet, people[6].address, value=10**9, gas=21_000, max_fee=2 * GWEI, tip=0
    )
    pay_miner = chain.tx(people[7], MINER, value=5, gas=21_000)
    built = chain.mine([*first, spend, pay_miner])
    flags = [o.rwset.reads_beneficiary for o in built.outcomes]
    assert flags == [False, False, True, True]
    assert built.block.groups == ((0, 1, 2, 3),)


_TOUCHING_THREE = """
from common.chain.accounts import genesis_alloc, sign, wallets
from common.evm.forks import decode_transaction
from common.chain.execute import execute_transaction
from common.chain.state import ChainConfig, ChainState
from common.evm.subcalls import PARALLEL_ADDRESS, SubCall, encode_calls

people = wallets(4)
chain = ChainState.genesis(genesis_alloc(people), ChainConfig())
calls = [SubCall(i + 1, p.address, b"") for i, p in enumerate(people[1:])]
data = encode_calls(calls)
raw = sign(people[0], 0, PARALLEL_ADDRESS, config=ChainConfig(), data=data, gas=99_000)
state = chain.recording_state(chain.next_env(b"\\x77" * 20))
receipt = execute_transaction(state, decode_transaction(raw)).receipt
print(receipt.status, receipt.read_hash.hex(), receipt.write_hash.hex())
"""


def test_operation_hashes_do_not_depend_on_the_process_hash_seed():
    """A transaction that touches several accounts: py-evm checks them for EIP-161
    deletion in a Python set's order, which hash randomisation changes from process
    to process. Miner and validators are different processes, so the recorded order
    must not follow it."""
    answers = set()
    for seed in range(4):
        env = {**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", _TOUCHING_THREE], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        answers.add(done.stdout)
    assert len(answers) == 1
    assert answers.pop().startswith("1 ")
