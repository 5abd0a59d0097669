"""Every strategy, one answer (invariant 8): groups, declared, optimistic and serial
validation accept the same generated blocks with the miner's receipts and state root
(which chain.mine checks against unmodified py-evm), without ever needing the serial
double-check, and each does the work it claims (tasks per transaction, rounds of
re-execution)."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.chain.grouping import schedule
from common.chain.rwset import TxRWSet
from tests.conftest import MINER, Chain
from tests.test_determinism import ERC20, PROBE, make_tx, specs
from validator.strategies import STRATEGIES, declared_inputs
from validator.validate import Validator


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(blocks=st.lists(st.lists(specs, min_size=1, max_size=14), min_size=2, max_size=2))
def test_every_strategy_accepts_what_the_miner_built(deployed, people, blocks):
    chain = Chain(deployed.state, dict(deployed.nonces))
    built = [chain.mine([make_tx(chain, deployed, people, s) for s in b]) for b in blocks]
    for strategy in STRATEGIES:
        for workers in (1, 3) if strategy in ("declared", "optimistic") else (2,):
            with Validator(deployed.state, MINER, workers=workers, strategy=strategy) as v:
                for b in built:
                    report = v.validate(b.block)
                    assert report.receipts == tuple(o.receipt for o in b.outcomes), strategy
                    assert report.strategy == strategy
                    assert report.executions >= len(b.block.transactions)
                assert v.fallbacks == 0, strategy
                assert v.state.head.state_root == chain.state.head.state_root


def test_optimistic_runs_again_what_read_an_earlier_write_and_only_that(deployed, people):
    """Six bumps of the probe's one counter (a chain of conflicts) and three
    independent token transfers: the transfers run once, each bump after the first
    runs again, and the estimate rule keeps each round to the first stale bump."""
    chain = Chain(deployed.state, dict(deployed.nonces))
    txs = [chain.tx(people[i], deployed.probe, data=PROBE.call_data("bump")) for i in range(1, 7)]
    for i in range(3):  # to three different holders: no conflict among them
        transfer = ERC20.call_data("transfer", "0x" + bytes([0x50 + i]).hex() * 20, 1)
        txs.append(chain.tx(people[7 + i], deployed.token, data=transfer))
    built = chain.mine(txs)
    with Validator(deployed.state, MINER, workers=2, strategy="optimistic") as v:
        report = v.validate(built.block)
    assert report.receipts == tuple(o.receipt for o in built.outcomes)
    assert report.rounds[0] == tuple(range(9))
    assert [len(r) for r in report.rounds[1:]] == [1] * 5  # one stale bump per round
    assert report.executions == 9 + 5
    assert report.wasted_cpu_s > 0


def _check_time_line(report, workers):
    """Spans lie inside DISPATCH, and one worker runs one thing at a time."""
    assert report.cores and len(report.cores) == workers
    for worker in range(workers):
        mine = sorted((s for s in report.spans if s.worker == worker), key=lambda s: s.start)
        for earlier, later in itertools.pairwise(mine):
            assert earlier.end <= later.start
    for span in report.spans:
        assert 0 <= span.start <= span.end <= report.execute_s
        assert 0 <= span.cpu <= span.end - span.start + 0.01


def test_reports_say_which_worker_ran_which_group_or_transaction_and_when(deployed, people):
    """The Gantt chart's data: ``groups`` puts each group on the worker LPT chose,
    ``declared`` each transaction once, ``optimistic`` every execution, thrown-away
    ones included."""
    chain = Chain(deployed.state, dict(deployed.nonces))
    txs = [chain.tx(people[i], deployed.probe, data=PROBE.call_data("bump")) for i in (1, 2, 3)]
    for i in range(3):
        transfer = ERC20.call_data("transfer", "0x" + bytes([0x60 + i]).hex() * 20, 1)
        txs.append(chain.tx(people[4 + i], deployed.token, data=transfer))
    built = chain.mine(txs).block
    plan = schedule(built.group_gas, 2)
    by_strategy = {}
    for strategy in STRATEGIES:
        with Validator(deployed.state, MINER, workers=2, strategy=strategy) as v:
            by_strategy[strategy] = report = v.validate(built)
        _check_time_line(report, 2)
    groups = by_strategy["groups"].spans
    assert sorted((s.worker, s.ident) for s in groups) == sorted(
        (w, g) for w, gs in enumerate(plan) for g in gs
    )
    assert {s.kind for s in groups} == {"group"} and len(built.groups) >= 4
    serial = by_strategy["serial"].spans
    assert [(s.worker, s.kind) for s in serial] == [(0, "group")]
    declared = by_strategy["declared"].spans
    assert sorted(s.ident for s in declared) == list(range(6))
    assert {s.kind for s in declared} == {"tx"}
    optimistic = by_strategy["optimistic"]
    assert len(optimistic.spans) == optimistic.executions > 6


def test_declared_inputs_carry_earlier_writes_for_what_a_transaction_reads(deployed, people):
    """Two bumps: the second's inputs hold the counter the first declared it wrote; the
    first's hold nothing (it starts from the parent state)."""
    chain = Chain(deployed.state, dict(deployed.nonces))
    txs = [chain.tx(people[i], deployed.probe, data=PROBE.call_data("bump")) for i in (1, 2)]
    built = chain.mine(txs)
    first, second = declared_inputs(built.block.rwsets)
    assert deployed.probe not in first
    declared: TxRWSet = built.block.rwsets[0]
    assert second[deployed.probe].storage == declared.writes[deployed.probe].storage
