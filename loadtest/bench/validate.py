"""``pavm bench validate``: serial py-evm against recorded mining and parallel validation.

Every figure comes from one run on the same transactions and the same parent states:

- serial_s    unmodified py-evm (``State.apply_transaction`` per transaction, then the
              state root) — the paper's Geth role, the baseline;
- record_s    the same with the recording account database (op hashes, R/W sets);
- parallel_s  decoding the block from its wire bytes and ``Validator.validate`` on K
              pinned workers, state root included.

Before the timed blocks the validator validates the setup blocks and one warm-up
block sent by other accounts, so its worker processes are past start-up (fork
copy-on-write faults, first imports) while the measured senders' accounts are as
cold for it as for py-evm. Each figure is the median of ``repeat`` runs; timings
are never asserted in tests.
"""

import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, TypeVar

from common.chain.accounts import address_of, genesis_alloc, mnemonic_wallets
from common.chain.block import Block
from common.chain.execute import execute_transaction
from common.chain.grouping import group_transactions
from common.chain.state import ChainConfig, ChainState
from common.evm.forks import apply_reference, decode_transaction
from loadtest.bench.cpu import CpuProfile, profile
from loadtest.workloads.generator import TxGenerator, parallel_gas
from loadtest.workloads.table import Workload
from loadtest.workloads.table import workload as get_workload
from miner.builder import BuiltBlock, build_block
from validator.strategies import Strategy
from validator.validate import ValidationReport, Validator
from validator.workers import allowed_cores

MINER_KEY = bytes(range(1, 33))
MINER = address_of(MINER_KEY)
T = TypeVar("T")


@dataclass(frozen=True)
class BenchResult:
    """What ``pavm bench validate --json`` prints."""

    workload: str
    scale: int
    txs: int
    blocks: int
    conflict_rate: float
    workers: int
    cores: int
    repeat: int
    serial_s: float
    record_s: float
    parallel_s: float
    speedup: float
    recording_overhead: float
    grouping_ms: float
    state_root_ms: float
    state_root_share: float
    """Fraction of parallel_s spent computing the state root (serial in the validator)."""
    execute_ms: float
    """Time from dispatching groups to the last worker's answer."""
    groups: int
    largest_group: int
    rwset_bytes: int
    block_bytes: int
    roots_equal: bool
    threads: int = 0
    """0: serial contracts; T: each transaction's T sub-calls of the parallel version."""
    parallelism: str = "inter"
    """What the parallel run used: "inter" (groups), "intra" (one transaction's
    sub-calls), or "both"."""
    subcalls_lent: int = 0
    """Sub-calls idle workers ran for another worker's transaction (all runs)."""


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call, after a full garbage collection."""
    gc.collect()
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


@dataclass(frozen=True)
class Prepared:
    """Blocks of one workload, mined once and then validated as often as needed."""

    genesis: ChainState
    setup: list[bytes]
    """Encoded blocks the validator takes untimed: deployment, funding, warm-up."""
    start: ChainState
    """State before the first timed block."""
    timed: list[BuiltBlock]

    @property
    def parents(self) -> list[ChainState]:
        return [self.start, *(b.state for b in self.timed[:-1])]

    @property
    def wire(self) -> list[bytes]:
        return [b.block.encode() for b in self.timed]


def bench_config(workload: Workload, scale: int, txs: int) -> ChainConfig:
    """A gas limit roomy enough for a whole timed block (of either version of the
    contract) and the setup batches."""
    return ChainConfig(gas_limit=max(60_000_000, 2 * txs * parallel_gas(workload.gas(scale))))


def prepare(
    workload: Workload,
    scale: int,
    txs: int,
    blocks: int = 1,
    conflict_rate: float = 0.0,
    group_size: int = 0,
    threads: int = 0,
) -> Prepared:
    """Mine the setup blocks, a warm-up block by other senders, then the timed blocks.

    Senders are funded in genesis; the warm-up block runs the same workload from other
    accounts so the validator's workers are past start-up while the measured senders'
    accounts are as cold for them as for py-evm.
    """
    config = bench_config(workload, scale, txs)
    deployer, *accounts = mnemonic_wallets(1 + 2 * txs)
    measured, warm = accounts[:txs], accounts[txs:]
    genesis = ChainState.genesis(genesis_alloc([deployer, *accounts]), config)
    generator = TxGenerator(
        workload, scale, config, conflict_rate=conflict_rate, group_size=group_size, threads=threads
    )
    state = genesis

    def mine(raw: list[bytes]) -> BuiltBlock:
        nonlocal state
        built = build_block(state, raw, MINER_KEY)
        if built.skipped:
            raise RuntimeError(f"workload transaction skipped: {built.skipped[0].reason}")
        if not all(o.receipt.status for o in built.outcomes):
            raise RuntimeError(f"a {workload.name} transaction at scale {scale} reverted")
        state = built.state
        return built

    setup = [mine(batch).block.encode() for batch in generator.setup(deployer, accounts)]
    setup.append(mine(generator.block(warm)).block.encode())
    start = state
    timed = [mine(generator.block(measured)) for _ in range(blocks)]
    return Prepared(genesis, setup, start, timed)


def _serial(parents: Sequence[ChainState], built: Sequence[BuiltBlock]) -> list[bytes]:
    roots = []
    for parent, b in zip(parents, built, strict=True):
        header = b.block.header
        state = parent.reference_state(parent.next_env(header.beneficiary, header.timestamp))
        apply_reference(state, [decode_transaction(raw) for raw in b.block.transactions])
        roots.append(bytes(state.make_state_root()))
    return roots


def _recorded(parents: Sequence[ChainState], built: Sequence[BuiltBlock]) -> None:
    for parent, b in zip(parents, built, strict=True):
        header = b.block.header
        state = parent.recording_state(parent.next_env(header.beneficiary, header.timestamp))
        db = state.recording_db
        db.begin_group()
        for raw in b.block.transactions:
            execute_transaction(state, decode_transaction(raw))
        db.settle_credit()
        state.make_state_root()


def time_serial(prepared: Prepared) -> tuple[float, bool]:
    """Seconds unmodified py-evm takes for the timed blocks, and whether its roots match."""
    seconds, roots = timed(lambda: _serial(prepared.parents, prepared.timed))
    return seconds, roots == [b.block.header.state_root for b in prepared.timed]


def time_recorded(prepared: Prepared) -> float:
    """Seconds of the same execution with the recording account database."""
    return timed(lambda: _recorded(prepared.parents, prepared.timed))[0]


def time_parallel(
    prepared: Prepared, workers: int, cpu: bool = False, strategy: Strategy = "groups"
) -> tuple[float, list[ValidationReport], bool, CpuProfile | None]:
    """Seconds ``Validator.validate`` takes for the timed blocks on ``workers`` workers
    (decoding included) by ``strategy``, its reports, whether it ends on the miner's
    state root without the serial double-check, and (with ``cpu``) the per-core
    utilisation during exactly those blocks."""
    with Validator(prepared.genesis, MINER, workers=workers, strategy=strategy) as validator:
        for raw in prepared.setup:
            validator.validate(Block.decode(raw))
        wire = prepared.wire

        def validate_all() -> tuple[float, list[ValidationReport]]:
            return timed(lambda: [validator.validate(Block.decode(w)) for w in wire])

        usage = None
        if cpu:
            (seconds, reports), usage = profile(validate_all)
        else:
            seconds, reports = validate_all()
        same = validator.state.head.state_root == prepared.timed[-1].block.header.state_root
        same &= validator.fallbacks == 0
    return seconds, reports, same, usage


def run_validate_bench(
    workload: str = "erc20",
    txs: int = 300,
    conflict_rate: float = 0.0,
    workers: int = 2,
    blocks: int = 1,
    repeat: int = 3,
    scale: int | None = None,
    threads: int = 0,
) -> BenchResult:
    """Measure serial, recorded and parallel validation of the same blocks; with
    ``threads``, an intra workload's transactions call its parallel contract, which
    py-evm runs in the fork-join's serial definition."""
    spec = get_workload(workload)
    if not 0 <= conflict_rate <= 1:
        raise ValueError("conflict rate must be between 0 and 1")
    if txs < 1 or blocks < 1 or workers < 1 or repeat < 1:
        raise ValueError("txs, blocks, workers and repeat must be positive")
    scale = spec.default_scale if scale is None else scale
    _progress(f"preparing {workload}: setup, warm-up and {blocks} block(s) of {txs} transactions")
    prepared = prepare(spec, scale, txs, blocks, conflict_rate, threads=threads)
    built = prepared.timed

    serial, record, parallel, roots_ms, execute_ms = [], [], [], [], []
    roots_equal, lent = True, 0
    for run in range(repeat):
        _progress(f"run {run + 1}/{repeat}: serial py-evm")
        seconds, same = time_serial(prepared)
        serial.append(seconds)
        roots_equal &= same
        _progress(f"run {run + 1}/{repeat}: serial with recording")
        record.append(time_recorded(prepared))
        _progress(f"run {run + 1}/{repeat}: parallel validation on {workers} workers")
        seconds, reports, same, _ = time_parallel(prepared, workers)
        roots_equal &= same
        parallel.append(seconds)
        lent += sum(r.subcalls_lent for r in reports)
        roots_ms.append(sum(r.state_root_s for r in reports) * 1000)
        execute_ms.append(sum(r.execute_s for r in reports) * 1000)

    grouping = [
        min(timed(partial(group_transactions, b.block.rwsets))[0] for _ in range(5)) for b in built
    ]
    serial_s = statistics.median(serial)
    record_s = statistics.median(record)
    parallel_s = statistics.median(parallel)
    state_root_ms = statistics.median(roots_ms)
    return BenchResult(
        workload=workload,
        scale=scale,
        txs=txs,
        blocks=blocks,
        conflict_rate=conflict_rate,
        workers=workers,
        cores=len(allowed_cores()),
        repeat=repeat,
        serial_s=round(serial_s, 4),
        record_s=round(record_s, 4),
        parallel_s=round(parallel_s, 4),
        speedup=round(serial_s / parallel_s, 3),
        recording_overhead=round(record_s / serial_s - 1, 4),
        grouping_ms=round(statistics.mean(grouping) * 1000, 3),
        state_root_ms=round(state_root_ms, 2),
        state_root_share=round(state_root_ms / 1000 / parallel_s, 3),
        execute_ms=round(statistics.median(execute_ms), 2),
        groups=max(len(b.block.groups) for b in built),
        largest_group=max(max(len(g) for g in b.block.groups) for b in built),
        rwset_bytes=max(b.rwset_bytes for b in built),
        block_bytes=max(len(w) for w in prepared.wire),
        roots_equal=roots_equal,
        threads=threads,
        parallelism=parallelism(built, lent),
        subcalls_lent=lent,
    )


def parallelism(built: Sequence[BuiltBlock], lent: int) -> str:
    """ "inter" when groups ran side by side, "intra" when only sub-calls did (one
    group), "both" when both happened."""
    several = any(len(b.block.groups) > 1 for b in built)
    if lent and several:
        return "both"
    return "intra" if lent else "inter"


def as_dict(result: BenchResult) -> dict[str, Any]:
    return asdict(result)
