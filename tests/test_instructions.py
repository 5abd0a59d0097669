"""pavm's instructions (SUBSOL, SLEEP, REVERTT, AFTERW/AFTERR/AFTERA, RR, RPHASH, RDR,
WTR): one engine with the fork-join precompile, so a set of sub-calls queued by
SUBSOL gives the serial definition's answer however it runs (invariant 8), and that
answer is what plain CALLs in thread-id order give on unmodified py-evm.

Contracts that use the instructions are assembled by hand (``tests/evm_asm.py``):
a driver at ``D`` queues sub-calls to the scripted contracts of
``tests/test_forkjoin.py``, marks, sleeps, reverts threads and joins.
"""

from dataclasses import replace
from typing import Any

import pytest
from eth.vm.forks.prague.computation import PragueComputation
from eth_typing import Address, Hash32
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.chain.accounts import sign
from common.chain.execute import TxOutcome, execute_transaction
from common.chain.state import ChainConfig, ChainState, GenesisAccount
from common.evm.forkjoin import Serial, Speculative
from common.evm.forkpoint import capture, speculate_at
from common.evm.forks import FORKS, decode_transaction, gas_used_by
from common.evm.gas_schedule import INSTRUCTIONS
from common.evm.instructions import BYTES, MARK_RPHASH, MARK_RR
from common.evm.recording import OpKind, RecordingAccountDB
from common.evm.subcalls import SubCall, decode_results
from tests.conftest import MINER as MINER_ADDRESS
from tests.conftest import Chain
from tests.evm_asm import Item, assemble, copy_to_memory
from tests.test_forkjoin import (
    CONFIG,
    MINER,
    PEOPLE,
    A,
    B,
    _store_slot,
    accounts,
    run_data,
    steps,
)
from tests.test_tamper import with_rwset, without_read_slot
from validator.validate import InvalidBlock, Validator

D = Address(b"\xdd" * 19 + b"\x01")
"""Where the driver under test lives."""
ALL_GAS = 2**40
"""A join's gas operand that forwards all it may (all but 1/64)."""


def driver(
    calls: list[SubCall],
    *,
    explicit_join: bool = True,
    marks: bool = False,
    sleeps: bool = False,
    wait_on_slot: bool = False,
) -> bytes:
    """Code that queues ``calls`` in the order given (SUBSOL, then AFTERA or AFTERW for
    a call with ``after``, SLEEP if asked), REVERTTs the ``discard`` ones and joins —
    with SUBSOL 0, storing the join's status with WTR in slot 0 and returning the
    join's output, or by ending the frame."""
    items: list[Item] = [0x52, "RR"] if marks else []
    offset = 0
    for call in calls:
        items += copy_to_memory(call.data, offset)
        items += [len(call.data), offset, int.from_bytes(call.target, "big"), call.tid, "SUBSOL"]
        if call.after:
            items += [7, call.after, "AFTERW"] if wait_on_slot else [call.after, "AFTERA"]
        if sleeps:
            items += [250, call.tid, "SLEEP"]
        offset += (len(call.data) + 31) // 32 * 32
    items += [x for call in calls if call.discard for x in (call.tid, "REVERTT")]
    if marks:
        items += [0x52, "RPHASH"]
    if not explicit_join:
        return assemble([*items, "STOP"])
    items += [64, offset, ALL_GAS, 0, "SUBSOL", 0, "WTR", 0, "RDR", 1, "WTR"]
    items += ["RETURNDATASIZE", 0, 0, "RETURNDATACOPY", "RETURNDATASIZE", 0, "RETURN"]
    return assemble(items)


def call_driver(calls: list[SubCall]) -> bytes:
    """The reference: plain CALLs with all the gas, in thread-id order, leaving out the
    calls REVERTT names (a thread that reverted changed nothing)."""
    items: list[Item] = []
    for call in sorted(calls, key=lambda c: c.tid):
        if call.discard:
            continue
        items += copy_to_memory(call.data, 0)
        items += [0, 0, len(call.data), 0, 0, int.from_bytes(call.target, "big"), "GAS"]
        items += ["CALL", "POP"]
    return assemble([*items, "STOP"])


def chain_with(code: bytes, config: ChainConfig = CONFIG) -> ChainState:
    """The fork-join tests' genesis with the driver ``code`` at ``D``."""
    return ChainState.genesis({**accounts(), D: GenesisAccount(balance=10**18, code=code)}, config)


def _tx(gas: int = 3_000_000, config: ChainConfig = CONFIG) -> bytes:
    return sign(PEOPLE[0], 0, D, config=config, data=b"", gas=gas)


def run_pavm(chain: ChainState, runner: Any, gas: int = 3_000_000) -> tuple[TxOutcome, Any]:
    state = chain.recording_state(chain.next_env(MINER))
    state.subcall_runner = runner
    state.recording_db.begin_group()
    outcome = execute_transaction(state, decode_transaction(_tx(gas, chain.config)))
    state.recording_db.settle_credit()
    return outcome, state


def run_reference(chain: ChainState, gas: int = 3_000_000) -> tuple[Any, Any, int]:
    """(state, computation, gas used) of py-evm's own state."""
    state = chain.reference_state(chain.next_env(MINER))
    tx = decode_transaction(_tx(gas, chain.config))
    state.lock_changes()
    computation = state.apply_transaction(tx)
    return state, computation, gas_used_by(tx, computation)


def _elsewhere(chain: ChainState) -> Any:
    def speculate(computation: Any, calls: list[SubCall], allowance: int) -> Any:
        fork = capture(computation, chain.next_env(MINER), earlier=[])
        replica = RecordingAccountDB(chain.db, Hash32(chain.head.state_root))
        return speculate_at(fork, chain.db, replica, calls, allowance)

    return speculate


# -- generated programs --------------------------------------------------------------


@st.composite
def queued_sets(draw: st.DrawFn, burn: bool = True) -> list[SubCall]:
    """1-4 sub-calls in any listing order; some wait for a lower thread, some are
    named by REVERTT. Without ``burn``, no step depends on the gas it is given."""
    program = steps if burn else steps.map(lambda s: [x for x in s if x[0] != 7])
    n = draw(st.integers(1, 4))
    tids = sorted(draw(st.sets(st.integers(1, 9), min_size=n, max_size=n)))
    calls = []
    for i, tid in enumerate(tids):
        after = draw(st.sampled_from([0, *tids[:i]])) if i else 0
        data = run_data(draw(program), [])
        target = draw(st.sampled_from([A, B]))
        calls.append(SubCall(tid, target, data, after, draw(st.booleans())))
    return draw(st.permutations(calls))


_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.slow
@_SETTINGS
@given(
    calls=queued_sets(),
    gas=st.sampled_from([300_000, 3_000_000]),
    explicit_join=st.booleans(),
    marks=st.booleans(),
    sleeps=st.booleans(),
    wait_on_slot=st.booleans(),
)
def test_queued_sub_calls_give_the_serial_definition_however_they_run(
    calls, gas, explicit_join, marks, sleeps, wait_on_slot
):
    code = driver(
        calls, explicit_join=explicit_join, marks=marks, sleeps=sleeps, wait_on_slot=wait_on_slot
    )
    chain = chain_with(code)
    serial, serial_state = run_pavm(chain, Serial(), gas)
    root = serial_state.make_state_root()
    for runner in (Speculative(), Speculative(_elsewhere(chain))):
        parallel, state = run_pavm(chain, runner, gas)
        assert (parallel.receipt, parallel.rwset, parallel.ops) == (
            serial.receipt,
            serial.rwset,
            serial.ops,
        )
        assert state.make_state_root() == root
    reference, computation, used = run_reference(chain, gas)
    assert reference.make_state_root() == root
    assert used == serial.receipt.gas_used
    assert len(computation.get_log_entries()) == len(serial.receipt.logs)
    marked = [op for op in serial.ops if op[0] == OpKind.MARK]
    if marks and serial.receipt.status:
        assert [(op[2], op[3]) for op in marked] == [(0x52, MARK_RR), (0x52, MARK_RPHASH)]
    else:
        assert not marks or not marked or serial.receipt.status == 0


@pytest.mark.slow
@_SETTINGS
@given(calls=queued_sets(burn=False), explicit_join=st.booleans())
def test_sub_calls_leave_the_state_that_plain_calls_in_thread_id_order_leave(calls, explicit_join):
    """py-evm with Prague's CALL alone, no pavm code at all, is the reference: the
    scripted contracts' storage and balances and the wallets they pay end equal."""
    pavm, _ = run_pavm(chain_with(driver(calls, explicit_join=explicit_join)), Serial())
    assert pavm.receipt.status == 1
    chain = chain_with(call_driver(calls), replace(CONFIG, fork="prague"))
    state = chain.reference_state(chain.next_env(MINER))
    assert type(state) is FORKS["prague"].reference
    parent = chain_with(driver(calls, explicit_join=explicit_join))
    ours = parent.reference_state(parent.next_env(MINER))
    for s, c in ((state, chain), (ours, parent)):
        s.lock_changes()
        s.apply_transaction(decode_transaction(_tx(config=c.config)))
    wallets = [Address((4096 + i).to_bytes(20, "big")) for i in range(3)]
    for address in (A, B, D, *wallets):
        assert state.get_balance(address) == ours.get_balance(address)
        for key in range(4):
            slot = _store_slot(key)
            assert state.get_storage(address, slot) == ours.get_storage(address, slot)
    for key in (7,):
        assert state.get_storage(A, _store_slot(key)) == ours.get_storage(A, _store_slot(key))


# -- what each instruction does ------------------------------------------------------


def _results(calls: list[SubCall], **kwargs: bool) -> tuple[TxOutcome, list[Any]]:
    outcome, _ = run_pavm(chain_with(driver(calls, **kwargs)), Serial())
    _, computation, _ = run_reference(chain_with(driver(calls, **kwargs)))
    return outcome, decode_results(computation.output) if computation.output else []


def test_revertt_undoes_a_threads_writes_and_logs_and_later_threads_do_not_see_them():
    """Thread 1 stores 42 in slot 1 and logs; REVERTT 1. Thread 2 reads slot 1: it
    sees the 5 that was there, and only thread 2's log survives. Thread 1 still used
    gas and its output comes back, with success false."""
    calls = [
        SubCall(1, A, run_data([(2, 1, 42), (1, 1, 0), (5, 1, 0)], []), discard=True),
        SubCall(2, A, run_data([(1, 1, 0), (5, 2, 0), (2, 3, 0)], [])),
    ]
    outcome, results = _results(calls)
    first, second = results
    assert not first.success and int.from_bytes(first.output, "big") == 42
    assert second.success and int.from_bytes(second.output, "big") == 5
    assert len(outcome.receipt.logs) == 1
    stored = outcome.rwset.writes[A].storage
    assert stored == {_store_slot(3): 5}  # thread 2 stored acc ^ 0 = the 5 it read
    _, kept = _results([replace(calls[0], discard=False), calls[1]])
    assert kept[0].success and int.from_bytes(kept[1].output, "big") == 42


def test_a_frame_that_ends_joins_what_it_queued_and_one_that_fails_drops_it():
    calls = [SubCall(1, A, run_data([(2, 1, 42)], [])), SubCall(2, B, run_data([(2, 2, 7)], []))]
    ended, _ = run_pavm(chain_with(driver(calls, explicit_join=False)), Serial())
    assert ended.receipt.status == 1
    assert ended.rwset.writes[A].storage == {_store_slot(1): 42}
    assert ended.rwset.writes[B].storage == {_store_slot(2): 7}
    items: list[Item] = []
    for call in calls:
        items += copy_to_memory(call.data, 0)
        items += [len(call.data), 0, int.from_bytes(call.target, "big"), call.tid, "SUBSOL"]
    reverted, _ = run_pavm(chain_with(assemble([*items, 0, 0, "REVERT"])), Serial())
    assert reverted.receipt.status == 0
    assert A not in reverted.rwset.writes and B not in reverted.rwset.writes
    assert not any(op[1] in (A, B) for op in reverted.ops)  # never even started


def test_a_sub_call_that_queues_and_joins_sub_calls_of_its_own_gives_the_same_answer():
    """Nesting: thread 2 of the driver at D calls a second driver at E, which queues
    two threads of its own (one REVERTTed) and joins them; serially, speculatively
    here and on another replica, and on py-evm, everything agrees."""
    inner = driver(
        [
            SubCall(1, A, run_data([(2, 5, 1), (5, 5, 0)], [])),
            SubCall(2, A, run_data([(1, 5, 0), (2, 6, 0)], []), discard=True),
        ]
    )
    e = Address(b"\xee" * 19 + b"\x01")
    outer = driver(
        [
            SubCall(1, A, run_data([(2, 5, 9)], [])),
            SubCall(2, e, b""),
            SubCall(3, B, run_data([(1, 1, 0), (2, 2, 0)], []), after=2),
        ]
    )
    alloc = {**accounts(), D: GenesisAccount(1, code=outer), e: GenesisAccount(1, code=inner)}
    chain = ChainState.genesis(alloc, CONFIG)
    serial, state = run_pavm(chain, Serial())
    assert serial.receipt.status == 1
    assert serial.rwset.writes[A].storage[_store_slot(5)] == 1  # E's thread 1 after D's
    assert serial.rwset.writes[e].storage == {0: 1, 1: 1}  # E's join succeeded
    for runner in (Speculative(), Speculative(_elsewhere(chain))):
        parallel, other = run_pavm(chain, runner)
        assert (parallel.receipt, parallel.ops) == (serial.receipt, serial.ops)
        assert other.make_state_root() == state.make_state_root()
    reference, _, used = run_reference(chain)
    assert reference.make_state_root() == state.make_state_root()
    assert used == serial.receipt.gas_used


def test_afterw_and_aftera_start_a_call_on_the_joined_state_instead_of_speculating_it():
    """Thread 2 reads what thread 1 writes. Speculated from the fork point it must run
    again; told to wait (AFTERA, or AFTERW on the slot) it runs once, on the state
    thread 1 left. The answer is the same all three ways."""
    calls = [
        SubCall(1, A, run_data([(2, 1, 42)], [])),
        SubCall(2, A, run_data([(1, 1, 0), (2, 3, 1000)], [])),
    ]
    answers = set()
    for after, wait_on_slot, reruns in ((0, False, 1), (1, False, 0), (1, True, 0)):
        queued = [calls[0], replace(calls[1], after=after)]
        speculative = Speculative()
        code = driver(queued, wait_on_slot=wait_on_slot)
        outcome, _ = run_pavm(chain_with(code), speculative)
        assert speculative.reruns == reruns
        answers.add(tuple(sorted(outcome.rwset.writes[A].storage.items())))
    assert answers == {tuple(sorted({_store_slot(1): 42, _store_slot(3): 42 ^ 1000}.items()))}


def test_sleep_changes_nothing_but_its_own_gas():
    calls = [SubCall(1, A, run_data([(2, 1, 42)], [])), SubCall(2, B, run_data([(1, 2, 0)], []))]
    awake, _ = run_pavm(chain_with(driver(calls)), Serial())
    asleep, _ = run_pavm(chain_with(driver(calls, sleeps=True)), Serial())

    def on_targets(outcome: TxOutcome) -> list[Any]:
        return [op for op in outcome.ops if op[1] in (A, B)]

    assert on_targets(asleep) == on_targets(awake)
    assert asleep.receipt.logs == awake.receipt.logs
    sleep = CONFIG.gas.instruction("SLEEP")
    # per call: PUSH 250 and PUSH tid (3 gas each), then SLEEP
    assert asleep.receipt.gas_used - awake.receipt.gas_used == 2 * (3 + 3 + sleep)


def test_rr_and_rphash_are_hashed_into_the_receipt_and_priced_by_the_schedule():
    calls = [SubCall(1, A, run_data([(1, 1, 0)], []))]
    plain, _ = run_pavm(chain_with(driver(calls)), Serial())
    marked, _ = run_pavm(chain_with(driver(calls, marks=True)), Serial())
    assert [op for op in marked.ops if op[0] == OpKind.MARK] == [
        (OpKind.MARK, D, 0x52, MARK_RR),
        (OpKind.MARK, D, 0x52, MARK_RPHASH),
    ]
    assert marked.receipt.write_hash != plain.receipt.write_hash
    # a mark is no state access: the same accesses, in the same order, but for it
    unmarked = [op[:3] for op in marked.ops if op[0] != OpKind.MARK]
    assert unmarked == [op[:3] for op in plain.ops]
    costs = list(CONFIG.gas.instructions)
    costs[INSTRUCTIONS.index("RR")] += 100
    dearer = replace(CONFIG, gas=replace(CONFIG.gas, instructions=tuple(costs)))
    dear, _ = run_pavm(chain_with(driver(calls, marks=True), dearer), Serial())
    assert dear.receipt.gas_used - marked.receipt.gas_used == 100


def test_rdr_and_wtr_are_recorded_sload_and_sstore():
    """The driver's ``WTR 0 <status>; RDR 0; WTR 1`` leaves the join's status in slots 0
    and 1, recorded as any SLOAD/SSTORE would be, at SLOAD's and SSTORE's gas."""
    calls = [SubCall(1, A, run_data([(1, 1, 0)], []))]
    outcome, _ = run_pavm(chain_with(driver(calls)), Serial())
    assert outcome.rwset.writes[D].storage == {0: 1, 1: 1}
    assert (OpKind.READ_STORAGE, D, 0, 1) in outcome.ops
    sload = assemble([0, "SLOAD", 1, "SSTORE", "STOP"])
    rdr = assemble([0, "RDR", 1, "WTR", "STOP"])
    by_name = [run_pavm(chain_with(code), Serial())[0] for code in (sload, rdr)]
    sload_run, rdr_run = by_name  # the code differs, so its hash in the read hash does
    assert replace(rdr_run.receipt, read_hash=b"") == replace(sload_run.receipt, read_hash=b"")
    assert rdr_run.rwset.writes == sload_run.rwset.writes
    assert [op[:3] for op in rdr_run.ops] == [op[:3] for op in sload_run.ops]


@pytest.mark.parametrize(
    "items, what",
    [
        ([1, "REVERTT", "STOP"], "REVERTT with nothing queued"),
        ([0, 0, 0xAA, 1, "SUBSOL", 9, "REVERTT", "STOP"], "REVERTT of a thread not queued"),
        ([1, "AFTERA", "STOP"], "AFTERA with nothing queued"),
        ([0, 0, 0xAA, 1, "SUBSOL", 1, "AFTERA", "STOP"], "AFTERA on its own thread"),
        ([0, 0, 0xAA, 2, "SUBSOL", 3, "AFTERA", "STOP"], "AFTERA on a higher thread"),
    ],
)
def test_misused_thread_instructions_fail_the_frame(items, what):
    outcome, _ = run_pavm(chain_with(assemble(items)), Serial(), gas=100_000)
    assert outcome.receipt.status == 0, what
    assert outcome.receipt.gas_used == 100_000, what  # a failed frame burns its gas


@pytest.mark.parametrize(
    "queue",
    [
        [(1, 0xAA), (1, 0xAA)],  # the same thread twice
        [(2**32, 0xAA)],  # a thread id out of range
        [],  # nothing to join
    ],
)
def test_a_join_of_a_bad_queue_fails_the_join_not_the_frame(queue):
    """The precompile's rules: the join pushes 0, the gas it forwarded is gone, and the
    frame goes on (it stores the 0 and returns)."""
    items: list[Item] = []
    for tid, target in queue:
        items += [0, 0, target, tid, "SUBSOL"]
    items += [0, 0, 100_000, 0, "SUBSOL", 0, "WTR", 7, 1, "SSTORE", "STOP"]
    outcome, _ = run_pavm(chain_with(assemble(items)), Serial())
    assert outcome.receipt.status == 1
    assert outcome.rwset.writes[D].storage == {0: 0, 1: 7}  # the join's status: 0
    assert outcome.receipt.gas_used > 100_000


def test_the_prague_fork_has_no_pavm_instructions_and_no_precompile():
    """On a chain whose config names "prague" the same bytes are invalid opcodes."""
    code = driver([SubCall(1, A, run_data([(2, 1, 42)], []))])
    outcome, _ = run_pavm(chain_with(code, replace(CONFIG, fork="prague")), Serial(), 200_000)
    assert outcome.receipt.status == 0 and outcome.receipt.gas_used == 200_000
    assert not set(BYTES.values()) & set(PragueComputation.opcodes)
    assert sorted(BYTES.values()) == list(range(0xA5, 0xAF))


def test_blocks_of_drivers_validate_alike_on_one_and_two_workers():
    """A block of one driver transaction (the two-worker validator lends its idle
    worker), then one of two whose threads write shared and disjoint slots: both
    validators accept the miner's blocks; a hidden read is rejected."""
    programs = [
        [SubCall(t, A, run_data([(7, 0, 150), (2, 20 + t, t), (5, t, 0)], [])) for t in (1, 2, 3)],
        [SubCall(1, B, run_data([(2, 1, 3)], [])), SubCall(2, B, run_data([(1, 1, 0)], []), 1)],
        [SubCall(1, A, run_data([(2, 30, 1)], []), discard=True)],
    ]
    drivers = [(bytes(19) + bytes((0xD0 + i,)), driver(p)) for i, p in enumerate(programs)]
    alloc = {address: GenesisAccount(balance=1, code=code) for address, code in drivers}
    parent = ChainState.genesis({**accounts(), **alloc}, CONFIG)
    chain = Chain(parent, {})
    txs = [chain.tx(PEOPLE[i % 2], a, gas=3_000_000) for i, (a, _) in enumerate(drivers)]
    blocks = [chain.mine(txs[:1]), chain.mine(txs[1:])]
    assert [o.receipt.status for b in blocks for o in b.outcomes] == [1, 1, 1]
    assert len(blocks[1].block.groups) == 2  # calling the precompile is no conflict
    for workers in (1, 2):
        with Validator(parent, MINER_ADDRESS, workers=workers) as validator:
            for built in blocks:
                report = validator.validate(built.block)
                assert report.receipts == tuple(o.receipt for o in built.outcomes)
                if workers == 2 and built is blocks[0]:
                    assert report.subcalls_lent > 0
    lying = with_rwset(blocks[0].block, 0, without_read_slot(blocks[0].block.rwsets[0]))
    with Validator(parent, MINER_ADDRESS, workers=2) as validator:
        with pytest.raises(InvalidBlock) as caught:
            validator.validate(lying)
        assert caught.value.reason == "rwset_mismatch"
