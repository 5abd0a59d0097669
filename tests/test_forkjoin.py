"""The fork-join precompile: a speculative run gives exactly what the serial definition
gives, and the serial definition on the recording state gives what py-evm's own
message calls give (invariant 8).

Generated sets of sub-calls on two scripted contracts read and write the same or
different storage and transient slots, log, revert, run out of gas, send and read
ether, wait for each other (``after``) and fork-join again inside a sub-call. Each
transaction runs three ways from the same parent: py-evm's unmodified Prague state
with the precompile in its serial definition (the reference), the recording state
serially, and the recording state speculatively.
"""

from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import vyper
from eth_abi import decode, encode
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from eth_utils import function_signature_to_4byte_selector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.chain.accounts import genesis_alloc, sign, wallets
from common.chain.execute import TxOutcome, execute_transaction
from common.chain.state import ChainConfig, ChainState, GenesisAccount
from common.evm.forkjoin import Serial, Speculative
from common.evm.forkpoint import capture, speculate_at
from common.evm.forks import decode_transaction, gas_used_by
from common.evm.recording import RecordingAccountDB
from common.evm.subcalls import (
    MAX_SUBCALLS,
    PARALLEL_ADDRESS,
    BadSubcalls,
    SubCall,
    decode_calls,
    decode_results,
    encode_calls,
)
from tests.conftest import MINER as MINER_ADDRESS
from tests.conftest import Chain
from tests.test_tamper import with_rwset, without_read_slot
from validator.validate import InvalidBlock, Validator

CONFIG = ChainConfig()
MINER = Address(b"\x77" * 20)
A = Address(b"\xaa" * 19 + b"\x01")
B = Address(b"\xaa" * 19 + b"\x02")
RUN = function_signature_to_4byte_selector("run(uint256[3][],uint256[3][][])")
PEOPLE = wallets(2)
"""Funded at genesis (MINER_ADDRESS, the block builder's, is not among them)."""


@cache
def scripted_code() -> bytes:
    source = (Path(__file__).parent / "contracts" / "scripted.vy").read_text()
    out = vyper.compile_code(source, output_formats=["bytecode_runtime"])
    return bytes.fromhex(out["bytecode_runtime"].removeprefix("0x"))


def accounts() -> dict[bytes, GenesisAccount]:
    """Genesis of the fork-join tests: two funded people, the scripted contract at A and B."""
    storage = {_store_slot(1): 5, _store_slot(2): 9}
    contract = GenesisAccount(balance=10**18, code=scripted_code(), storage=storage)
    return {**genesis_alloc(PEOPLE), A: contract, B: contract}


@cache
def parent(config: ChainConfig = CONFIG) -> ChainState:
    return ChainState.genesis(accounts(), config)


def _store_slot(key: int) -> int:
    """Where Vyper keeps ``store[key]`` (the HashMap at slot 0)."""
    return int.from_bytes(keccak((0).to_bytes(32, "big") + key.to_bytes(32, "big")), "big")


def run_data(steps: list[tuple[int, int, int]], nested: list[list[tuple[int, int, int]]]) -> bytes:
    return RUN + encode(
        ["uint256[3][]", "uint256[3][][]"],
        [[list(s) for s in steps], [[list(s) for s in p] for p in nested]],
    )


# -- generated programs --------------------------------------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([1, 2, 3, 4, 5]), st.integers(0, 3), st.integers(0, 9)),
        st.tuples(st.just(6), st.just(0), st.just(0)),  # revert
        st.tuples(st.just(7), st.just(0), st.integers(0, 3000)),  # burn gas (may run out)
        st.tuples(st.sampled_from([8, 9]), st.integers(0, 2), st.integers(0, 3)),  # ether
    ),
    max_size=6,
)
nested_steps = st.lists(steps, max_size=3)


@st.composite
def subcall_sets(draw: st.DrawFn) -> list[SubCall]:
    n = draw(st.integers(1, 4))
    tids = sorted(draw(st.sets(st.integers(1, 9), min_size=n, max_size=n)))
    calls = []
    for i, tid in enumerate(tids):
        program = draw(steps)
        nested: list[list[tuple[int, int, int]]] = []
        if draw(st.booleans()):
            nested = draw(nested_steps)
            program = [*program, (10, 0, draw(st.integers(0, 1)))]
        after = draw(st.sampled_from([0, *tids[:i]])) if i else 0
        target = draw(st.sampled_from([A, B]))
        calls.append(SubCall(tid, target, run_data(program, nested), after))
    return calls


def _tx(calls: list[SubCall], gas: int, via_contract: bool) -> bytes:
    if via_contract:
        # A contract forks: A.run([fork(nested)], nested) with each call's program.
        programs = [_program_of(c) for c in calls]
        data = run_data([(10, 0, calls[-1].after % 2), (2, 7, 0)], programs[:3])
        return sign(PEOPLE[0], 0, A, config=CONFIG, data=data, gas=gas)
    return sign(PEOPLE[0], 0, PARALLEL_ADDRESS, config=CONFIG, data=encode_calls(calls), gas=gas)


def _program_of(call: SubCall) -> list[tuple[int, int, int]]:
    program, _ = decode(["uint256[3][]", "uint256[3][][]"], call.data[4:])
    return [tuple(step) for step in program]


def _run_pavm(raw: bytes, runner: Any, config: ChainConfig = CONFIG) -> tuple[TxOutcome, bytes]:
    chain = parent(config)
    state = chain.recording_state(chain.next_env(MINER))
    state.subcall_runner = runner
    state.recording_db.begin_group()
    outcome = execute_transaction(state, decode_transaction(raw))
    state.recording_db.settle_credit()
    return outcome, bytes(state.make_state_root())


def _run_reference(raw: bytes) -> tuple[bytes, bytes, int, int]:
    """(state root, output, gas used, number of logs) of py-evm's own state."""
    chain = parent()
    state = chain.reference_state(chain.next_env(MINER))
    tx = decode_transaction(raw)
    state.lock_changes()
    computation = state.apply_transaction(tx)
    logs = len(computation.get_log_entries())
    return bytes(state.make_state_root()), computation.output, gas_used_by(tx, computation), logs


def _on_another_replica(computation: Any, calls: list[SubCall], allowance: int) -> Any:
    """Speculate as another worker would: from the captured fork point, rebuilt on a
    replica of its own at the parent state."""
    chain = parent()
    fork = capture(computation, chain.next_env(MINER), earlier=[])
    replica = RecordingAccountDB(chain.db, Hash32(chain.head.state_root))
    return speculate_at(fork, chain.db, replica, calls, allowance)


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    calls=subcall_sets(),
    gas=st.sampled_from([400_000, 3_000_000]),
    via_contract=st.booleans(),
)
def test_speculation_equals_the_serial_definition_equals_pyevm(calls, gas, via_contract):
    raw = _tx(calls, gas, via_contract)
    serial, serial_root = _run_pavm(raw, Serial())
    speculative = Speculative()
    parallel, parallel_root = _run_pavm(raw, speculative)
    assert parallel.receipt == serial.receipt  # gas, status, logs, operation hashes
    assert parallel.rwset == serial.rwset
    assert parallel.ops == serial.ops
    assert parallel_root == serial_root
    elsewhere, elsewhere_root = _run_pavm(raw, Speculative(_on_another_replica))
    assert (elsewhere.receipt, elsewhere.ops, elsewhere_root) == (
        serial.receipt,
        serial.ops,
        serial_root,
    )
    reference_root, _, reference_gas, reference_logs = _run_reference(raw)
    assert serial_root == reference_root
    assert serial.receipt.gas_used == reference_gas
    assert len(serial.receipt.logs) == reference_logs


def test_independent_sub_calls_are_joined_without_running_again():
    """Four calls that touch disjoint slots: every speculative run is kept."""
    calls = [
        SubCall(t, A, run_data([(1, t, 0), (2, t + 10, 3), (5, t, 0)], [])) for t in (1, 2, 3, 4)
    ]
    raw = _tx(calls, 3_000_000, via_contract=False)
    speculative = Speculative()
    parallel, root = _run_pavm(raw, speculative)
    serial, serial_root = _run_pavm(raw, Serial())
    assert speculative.reruns == 0
    assert (parallel.receipt, root) == (serial.receipt, serial_root)
    assert len(parallel.receipt.logs) == 4


def test_a_call_that_reads_what_an_earlier_one_wrote_runs_again_and_sees_it():
    """Thread 2 reads slot 1 after thread 1 wrote it: its speculative run read the
    fork point's 5 and is thrown away; the joined result is the serial one."""
    calls = [
        SubCall(1, A, run_data([(2, 1, 42)], [])),
        SubCall(2, A, run_data([(1, 1, 0), (2, 3, 1000)], [])),
    ]
    raw = _tx(calls, 3_000_000, via_contract=False)
    speculative = Speculative()
    parallel, root = _run_pavm(raw, speculative)
    serial, serial_root = _run_pavm(raw, Serial())
    assert speculative.reruns == 1
    assert (parallel.receipt, root) == (serial.receipt, serial_root)
    stored = set(parallel.rwset.writes[A].storage.values())
    assert stored == {42, 42 ^ 1000}  # thread 2 stored what thread 1 left, not 5 ^ 1000


@pytest.mark.parametrize(
    "rows, reason",
    [
        ([], "between 1 and"),
        ([(A, b"", 1, 0)] * 2, "distinct"),
        ([(A, b"", 0, 0)], "distinct"),
        ([(A, b"", 1, 2), (A, b"", 2, 0)], "lower thread id"),
        ([(A, b"", 1, 0)] * (MAX_SUBCALLS + 1), "between 1 and"),
    ],
)
def test_bad_sets_of_sub_calls_are_refused_with_a_reason(rows, reason):
    data = encode(["(address,bytes,uint256,uint256)[]"], [rows])
    with pytest.raises(BadSubcalls, match=reason):
        decode_calls(data)
    with pytest.raises(BadSubcalls, match="not ABI"):
        decode_calls(b"\x01" * 31)


def test_results_come_back_by_thread_id_whatever_order_the_input_had():
    """Thread 5 is listed first; thread 2 reverts. The output has thread 2's failure
    first, then thread 5's return value, whichever order the input listed them in."""
    listed = [SubCall(5, B, run_data([(1, 2, 0)], [])), SubCall(2, A, run_data([(6, 0, 0)], []))]
    assert [c.tid for c in decode_calls(encode_calls(listed))] == [2, 5]
    _, output, _, _ = _run_reference(_tx(listed, 3_000_000, via_contract=False))
    first, second = decode_results(output)
    assert not first.success
    assert second.success and int.from_bytes(second.output, "big") == 9  # B's slot 2


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sets=st.lists(st.tuples(subcall_sets(), st.booleans()), min_size=1, max_size=3))
def test_blocks_of_fork_joins_validate_alike_on_1_2_and_4_workers(sets):
    """The miner runs sub-calls serially; validators with 2 and 4 workers lend idle
    workers to speculate them (few transactions, so most workers are idle). Every
    validator accepts the block with the miner's receipts and state root, which
    equals py-evm's."""
    chain = Chain(parent(), {})
    txs = []
    for i, (calls, via_contract) in enumerate(sets):
        if via_contract:
            programs = [_program_of(c) for c in calls]
            data = run_data([(10, 0, calls[-1].after % 2), (2, 7, 0)], programs[:3])
            txs.append(chain.tx(PEOPLE[i % 2], A, data=data, gas=3_000_000))
        else:
            data = encode_calls(calls)
            txs.append(chain.tx(PEOPLE[i % 2], PARALLEL_ADDRESS, data=data, gas=3_000_000))
    built = chain.mine(txs)  # asserts the miner's root == py-evm's
    for workers in (1, 2, 4):
        with Validator(parent(), MINER_ADDRESS, workers=workers) as validator:
            report = validator.validate(built.block)
            assert report.receipts == tuple(o.receipt for o in built.outcomes)
            assert validator.state.head.hash == built.block.hash


def test_a_validator_lends_idle_workers_to_a_transactions_sub_calls():
    """One transaction, four independent sub-calls, two workers: the worker that runs
    the transaction keeps half of the calls and the idle one speculates the rest."""
    chain = Chain(parent(), {})
    calls = [
        SubCall(t, A, run_data([(7, 0, 200), (2, t + 20, 1), (5, t, 0)], [])) for t in (1, 2, 3, 4)
    ]
    built = chain.mine(
        [chain.tx(PEOPLE[0], PARALLEL_ADDRESS, data=encode_calls(calls), gas=3_000_000)]
    )
    with Validator(parent(), MINER_ADDRESS, workers=2) as validator:
        report = validator.validate(built.block)
        assert validator.workers.lent == 2
    assert report.receipts == tuple(o.receipt for o in built.outcomes)
    assert len(report.receipts[0].logs) == 4
    (group,) = [s for s in report.spans if s.kind == "group"]
    (lent,) = [s for s in report.spans if s.kind == "subcalls"]
    # The idle worker's span names the asker and lies inside the asker's group.
    assert lent.worker != group.worker and lent.ident == group.worker
    assert group.start <= lent.start <= lent.end <= group.end


@pytest.mark.parametrize("lie", ["hidden write", "hidden read"])
def test_a_miner_hiding_a_sub_calls_access_is_rejected_on_any_worker_count(lie):
    """The sub-calls' reads and writes are the transaction's: a declared R/W set that
    leaves out a write made by thread 2 (speculated on the idle worker) or a slot
    thread 1 read is ``rwset_mismatch``, whether sub-calls ran serially (one worker)
    or were lent (two)."""
    chain = Chain(parent(), {})
    calls = [
        SubCall(1, A, run_data([(1, 2, 0), (2, 30, 1)], [])),
        SubCall(2, B, run_data([(2, 31, 7)], [])),
    ]
    built = chain.mine(
        [chain.tx(PEOPLE[0], PARALLEL_ADDRESS, data=encode_calls(calls), gas=3_000_000)]
    )
    declared = built.block.rwsets[0]
    if lie == "hidden write":
        writes = {a: w for a, w in declared.writes.items() if a != B}
        rwset = replace(declared, writes=writes)
    else:
        rwset = without_read_slot(declared)
    lying = with_rwset(built.block, 0, rwset)
    for workers in (1, 2):
        with Validator(parent(), MINER_ADDRESS, workers=workers) as validator:
            with pytest.raises(InvalidBlock) as caught:
                validator.validate(lying)
            assert caught.value.reason == "rwset_mismatch"
            assert validator.validate(built.block).receipts == (built.outcomes[0].receipt,)


def test_the_precompile_charges_what_the_chains_gas_schedule_says():
    """Two chains whose schedules differ by 1000 in ``base`` and 10 per call: the same
    three-call transaction costs exactly 1030 more on the second."""
    calls = [SubCall(t, A, run_data([(1, 1, 0)], [])) for t in (1, 2, 3)]
    raw = _tx(calls, 3_000_000, via_contract=False)
    gas = CONFIG.gas.fork_join
    dearer = replace(gas, base=gas.base + 1000, per_call=gas.per_call + 10)
    cheap, _ = _run_pavm(raw, Serial())
    dear, _ = _run_pavm(raw, Serial(), replace(CONFIG, gas=replace(CONFIG.gas, fork_join=dearer)))
    assert dear.receipt.gas_used - cheap.receipt.gas_used == 1030


def test_a_fork_join_nested_in_a_lent_transaction_validates_on_four_workers():
    """Thread 1 forks again while thread 2 is out on a helper; the nested fork-join
    runs where thread 1 runs (a worker has one request out at a time), and the block
    is accepted with the miner's receipts."""
    chain = Chain(parent(), {})
    nested = [[(1, 1, 0), (5, 1, 0)], [(2, 40, 3)], [(7, 0, 100)]]
    calls = [
        SubCall(1, A, run_data([(10, 0, 0), (2, 41, 0)], nested)),
        SubCall(2, B, run_data([(7, 0, 300), (2, 42, 1)], [])),
        SubCall(3, B, run_data([(1, 2, 0)], [])),
    ]
    raw = chain.tx(PEOPLE[0], PARALLEL_ADDRESS, data=encode_calls(calls), gas=3_000_000)
    built = chain.mine([raw])
    with Validator(parent(), MINER_ADDRESS, workers=4) as validator:
        report = validator.validate(built.block)
        assert validator.workers.lent == 2
    assert report.receipts == tuple(o.receipt for o in built.outcomes)
