"""Workers are pinned, replaced when they die, and never leave the validator hanging."""

import os
import signal
import time
from typing import cast

import pytest

from common.errors import WorkerFailure
from loadtest.workloads.contracts import load
from tests.conftest import MINER, Chain
from validator.validate import InvalidBlock, Validator
from validator.worker import RunGroups
from validator.workers import WorkerPool, allowed_cores

PROBE = load("probe")


def affinity(pid: int) -> set[int]:
    return os.sched_getaffinity(pid)


def test_workers_are_pinned_round_robin(deployed):
    cores = allowed_cores()
    with Validator(deployed.state, MINER, workers=3) as validator:
        pinned = [affinity(pid) for pid in validator.workers.pids]
    assert pinned == [{cores[i % len(cores)]} for i in range(3)]


def _two_blocks(deployed, people):
    chain = Chain(deployed.state, dict(deployed.nonces))
    blocks = []
    for round_ in range(2):
        txs = [
            chain.tx(w, deployed.probe, data=PROBE.call_data("set_value", i, round_))
            for i, w in enumerate(people[1:7])
        ]
        blocks.append(chain.mine(txs).block)
    return blocks


def test_a_slow_worker_is_waited_for_not_failed(deployed, people):
    """Far past the pool's progress interval, a live worker still delivers its groups."""
    first, _ = _two_blocks(deployed, people)
    env = deployed.state.next_env(first.header.beneficiary, first.header.timestamp)
    group = [(i, raw) for i, raw in enumerate(first.transactions)]
    source = lambda: (deployed.state.db, deployed.state.head.state_root)  # noqa: E731
    pool = WorkerPool(1, source, progress_every=0.0005)
    try:
        (done,) = pool.run([RunGroups(env, [(0, group)])])
        assert done is not None and len(done.outcomes) == len(group)
        assert pool.restarts == 0
    finally:
        pool.close()


def test_killed_worker_is_replaced_and_the_block_accepted(deployed, people):
    first, second = _two_blocks(deployed, people)
    with Validator(deployed.state, MINER, workers=2) as validator:
        validator.validate(first)
        victim = validator.workers.pids[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.2)
        report = validator.validate(second)
        assert report.number == second.header.number
        assert validator.workers.restarts >= 1 and victim not in validator.workers.pids
        assert validator.state.head.state_root == second.header.state_root


class _Poison:
    """A job no worker understands: the worker exits on it, like a crash would."""


def _poison() -> RunGroups:
    """A :class:`_Poison` where the pool expects a job."""
    return cast(RunGroups, _Poison())


def test_worker_dying_twice_raises_instead_of_hanging(deployed):
    pool = WorkerPool(1, lambda: (deployed.state.db, deployed.state.head.state_root))
    try:
        with pytest.raises(WorkerFailure, match="died twice"):
            pool.run([_poison()])
        assert pool.restarts == 1
        # The pool is usable again afterwards.
        env = deployed.state.next_env(MINER)
        (done,) = pool.run([RunGroups(env, [])])
        assert done is not None and done.outcomes == []
    finally:
        pool.close()


def test_validator_turns_worker_failure_into_a_rejection(deployed, people, monkeypatch):
    first, _ = _two_blocks(deployed, people)
    with Validator(deployed.state, MINER, workers=2) as validator:
        original = validator.workers.run
        monkeypatch.setattr(
            validator.workers, "run", lambda jobs: original([_poison() for _ in jobs])
        )
        with pytest.raises(InvalidBlock) as caught:
            validator.validate(first)
        assert caught.value.reason == "worker_failed"
        monkeypatch.undo()
        assert validator.validate(first).number == first.header.number


def test_workers_are_refreshed_from_the_validator_state(deployed, people):
    first, second = _two_blocks(deployed, people)
    with Validator(deployed.state, MINER, workers=2, refresh_every=1) as validator:
        old = validator.workers.pids
        validator.validate(first)
        refreshed = validator.workers.pids
        assert set(old).isdisjoint(refreshed)
        validator.validate(second)  # executes on replicas forked after the first block
        assert validator.state.head.state_root == second.header.state_root
