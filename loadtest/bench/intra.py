"""``pavm bench intra``: one large transaction, serial EVM against intra-contract
parallelism (the paper's Fig. 15).

The same work runs two ways from the same parent state:

- serial_s      unmodified py-evm applying the serial contract's transaction
                (``run_multiply``, ``run``, ...) and computing the state root: the
                paper's EVM, the baseline;
- pavm_s        ``Validator.validate`` of the block holding the parallel contract's
                transaction (its parts are sub-calls of the fork-join precompile) on
                K workers: the worker running the transaction lends the idle ones the
                sub-calls;
- pavm_one_worker_s  the same block on one worker, where sub-calls run serially (the
                cost of the fork-join itself);
- miner_s       the miner's builder process building that block with K - 1 helper
                processes (``miner/builder_process.py``), against miner_serial_s with
                none; the block must be byte for byte the one built in process.

Both transactions must store the same result. Next to every sample a control loop
measures how well the machine runs K processes at once right now
(``machine_scaling``); ``efficiency = speedup / machine_scaling``. Per-core
utilisation is sampled during the parallel validations (the paper's Fig. 19).
"""

import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth.db.account import AccountDB
from eth_hash.auto import keccak
from eth_typing import Address, Hash32

from common.chain.accounts import (
    address_of,
    contract_address,
    genesis_alloc,
    mnemonic_wallets,
    sign,
)
from common.chain.block import Block
from common.chain.state import ChainConfig, ChainState, GenesisAccount
from common.evm.forks import apply_reference, decode_transaction
from common.store.chain import ChainStore
from common.store.kv import LmdbDB
from loadtest.bench.control import measure_scaling
from loadtest.bench.cpu import profile
from loadtest.bench.validate import timed
from loadtest.workloads.contracts import load
from loadtest.workloads.table import TxInput, Workload
from loadtest.workloads.table import workload as get_workload
from miner.builder import BuiltBlock, build_block
from miner.builder_process import BuilderProcess
from validator.validate import Validator
from validator.workers import allowed_cores

MINER_KEY = bytes(range(2, 34))
MINER = address_of(MINER_KEY)
TX_GAS = 150_000_000
CONFIG = ChainConfig(gas_limit=200_000_000)
"""Room for one very large transaction (py-evm is the bottleneck, not gas)."""
KEY = 1
INTRA = ("matrixmul", "matrixadd", "substring", "histogram")


@dataclass(frozen=True)
class IntraResult:
    """What ``pavm bench intra --json`` prints."""

    workload: str
    paper_name: str
    scale: int
    threads: int
    workers: int
    cores: int
    repeat: int
    serial_s: float
    pavm_s: float
    pavm_one_worker_s: float
    speedup: float
    """serial_s / pavm_s."""
    machine_scaling: float
    efficiency: float
    fork_join_overhead: float
    """pavm_one_worker_s / serial_s - 1: recording and the fork-join on one core."""
    core_utilisation: list[float]
    """Each core's mean utilisation (percent) during the parallel validations."""
    serial_core_utilisation: list[float]
    """The same during py-evm's serial runs (one core busy)."""
    lent: int
    """Sub-calls the validator lent to idle workers in one validation."""
    gas_serial: int
    gas_parallel: int
    results_equal: bool
    roots_equal: bool
    miner_serial_s: float = 0.0
    """The builder process building the parallel contract's block without helpers."""
    miner_s: float = 0.0
    """The same with ``workers - 1`` helpers speculating its sub-calls."""
    miner_speedup: float = 0.0
    miner_lent: int = 0
    """Sub-calls the helpers ran in one build."""
    miner_blocks_equal: bool = True
    """Every build sealed exactly the block built in process."""


@dataclass(frozen=True)
class _Prepared:
    alloc: dict[bytes, GenesisAccount]
    genesis: ChainState
    setup: bytes
    deployed: ChainState
    contract: bytes
    serial: BuiltBlock
    parallel: BuiltBlock


def _progress(message: str) -> None:
    print(f"[bench intra] {message}", file=sys.stderr, flush=True)


def _prepare(spec: Workload, scale: int, threads: int) -> _Prepared:
    deployer, sender = mnemonic_wallets(2, offset=300)
    alloc = genesis_alloc([deployer, sender])
    genesis = ChainState.genesis(alloc, CONFIG)
    assert spec.contract is not None
    deploy = sign(
        deployer, 0, None, config=CONFIG, data=load(spec.contract).deploy_data(), gas=5_000_000
    )
    setup = build_block(genesis, [deploy], MINER_KEY)
    contract = contract_address(deployer.address, 0)
    tx = TxInput(scale=scale, key=KEY, seed=20261201, sender="", receiver="")
    blocks = []
    for data in (spec.call_data(tx), spec.parallel_call_data(tx, threads)):
        raw = sign(sender, 0, contract, config=CONFIG, data=data, gas=TX_GAS)
        built = build_block(setup.state, [raw], MINER_KEY)
        if built.skipped or not built.outcomes[0].receipt.status:
            raise ValueError(f"{spec.name} at scale {scale} failed on the miner")
        blocks.append(built)
    return _Prepared(alloc, genesis, setup.block.encode(), setup.state, contract, *blocks)


def _result_of(state: ChainState, contract: bytes) -> int:
    """``results[KEY]`` of the workload contract (its HashMap at slot 0)."""
    slot = int.from_bytes(keccak((0).to_bytes(32, "big") + KEY.to_bytes(32, "big")), "big")
    root = Hash32(state.head.state_root)
    return AccountDB(state.db, root).get_storage(Address(contract), slot)


def _serial(prepared: _Prepared) -> bytes:
    parent, header = prepared.deployed, prepared.serial.block.header
    state = parent.reference_state(parent.next_env(header.beneficiary, header.timestamp))
    apply_reference(state, [decode_transaction(r) for r in prepared.serial.block.transactions])
    return bytes(state.make_state_root())


def _pavm(prepared: _Prepared, workers: int) -> tuple[float, list[float], int, bool]:
    """(seconds, per-core utilisation, sub-calls lent, ends on the miner's root)."""
    with Validator(prepared.genesis, MINER, workers=workers) as validator:
        validator.validate(Block.decode(prepared.setup))
        wire = prepared.parallel.block.encode()
        (seconds, _), usage = profile(lambda: timed(lambda: validator.validate(Block.decode(wire))))
        lent = validator.workers.lent
        same = validator.state.head.state_root == prepared.parallel.block.header.state_root
    return seconds, usage.mean, lent, same


def _miner(prepared: _Prepared, helpers: int, repeat: int) -> tuple[list[float], int, bool]:
    """(seconds of each build, sub-calls lent in the last, every block the one built
    in process) of the builder process with ``helpers`` over an on-disk store."""
    with tempfile.TemporaryDirectory(prefix="pavm-intra-") as folder:
        db = LmdbDB(Path(folder) / "chain")
        store = ChainStore(db)
        try:
            store.open_chain(prepared.alloc, CONFIG)
            setup = Block.decode(prepared.setup)
            built = build_block(store.head_state(), setup.transactions, MINER_KEY)
            store.append(built.block, [o.receipt for o in built.outcomes])
            parent = store.head_state()
            block = prepared.parallel.block
            builder = BuilderProcess(db, CONFIG, MINER_KEY, helpers)
            try:
                builder.build(parent, [], None)  # the builder is up before the clock runs
                seconds, same, lent = [], True, 0
                for _ in range(repeat):
                    elapsed, (mined, _, lent) = timed(
                        lambda: builder.build(parent, block.transactions, block.header.timestamp)
                    )
                    seconds.append(elapsed)
                    same &= mined.block.encode() == block.encode()
            finally:
                builder.close()
        finally:
            db.close()
    return seconds, lent, same


def run_intra_bench(
    workload: str = "matrixmul",
    scale: int | None = None,
    threads: int = 2,
    workers: int = 2,
    repeat: int = 3,
) -> IntraResult:
    """Measure one large transaction serially on py-evm and in parallel on pavm."""
    spec = get_workload(workload)
    if spec.parallel_call is None:
        raise ValueError(f"{workload} has no parallel version; choose one of {', '.join(INTRA)}")
    if not 1 <= threads <= 16 or workers < 1 or repeat < 1:
        raise ValueError("threads must be 1-16, workers and repeat positive")
    scale = spec.intra_scales[-1] if scale is None else scale
    if not 1 <= scale <= spec.max_scale:
        raise ValueError(f"{workload}: scale must be 1-{spec.max_scale}")
    _progress(f"mining {workload} at scale {scale}: serial and {threads}-thread transactions")
    prepared = _prepare(spec, scale, threads)
    serial, parallel, one, scaling = [], [], [], []
    usage: list[list[float]] = []
    serial_usage: list[list[float]] = []
    lent, roots_equal = 0, True
    for run in range(repeat):
        _progress(f"run {run + 1}/{repeat}: control loop on {workers} processes")
        scaling.append(measure_scaling(workers).machine_scaling)
        _progress(f"run {run + 1}/{repeat}: serial py-evm")
        (seconds, root), profiled = profile(lambda: timed(lambda: _serial(prepared)))
        serial.append(seconds)
        serial_usage.append(profiled.mean)
        roots_equal &= root == prepared.serial.block.header.state_root
        _progress(f"run {run + 1}/{repeat}: pavm on {workers} workers")
        seconds, cores, lent, same = _pavm(prepared, workers)
        parallel.append(seconds)
        usage.append(cores)
        roots_equal &= same
        _progress(f"run {run + 1}/{repeat}: pavm on one worker")
        seconds, _, _, same = _pavm(prepared, 1)
        one.append(seconds)
        roots_equal &= same
    _progress(f"miner: the builder process with {workers - 1} helper(s), then none")
    mined, miner_lent, blocks_equal = _miner(prepared, workers - 1, repeat)
    alone, _, alone_equal = _miner(prepared, 0, repeat)
    miner_s, miner_serial_s = statistics.median(mined), statistics.median(alone)
    serial_s, pavm_s = statistics.median(serial), statistics.median(parallel)
    speedup = serial_s / pavm_s
    machine = statistics.median(scaling)
    return IntraResult(
        workload=workload,
        paper_name=spec.paper_name,
        scale=scale,
        threads=threads,
        workers=workers,
        cores=len(allowed_cores()),
        repeat=repeat,
        serial_s=round(serial_s, 4),
        pavm_s=round(pavm_s, 4),
        pavm_one_worker_s=round(statistics.median(one), 4),
        speedup=round(speedup, 3),
        machine_scaling=machine,
        efficiency=round(speedup / machine, 3),
        fork_join_overhead=round(statistics.median(one) / serial_s - 1, 4),
        core_utilisation=_mean_per_core(usage),
        serial_core_utilisation=_mean_per_core(serial_usage),
        lent=lent,
        gas_serial=prepared.serial.outcomes[0].receipt.gas_used,
        gas_parallel=prepared.parallel.outcomes[0].receipt.gas_used,
        results_equal=_result_of(prepared.serial.state, prepared.contract)
        == _result_of(prepared.parallel.state, prepared.contract),
        roots_equal=roots_equal,
        miner_serial_s=round(miner_serial_s, 4),
        miner_s=round(miner_s, 4),
        miner_speedup=round(miner_serial_s / miner_s, 3),
        miner_lent=miner_lent,
        miner_blocks_equal=blocks_equal and alone_equal,
    )


def _mean_per_core(runs: list[list[float]]) -> list[float]:
    return [round(statistics.mean(core), 1) for core in zip(*runs, strict=True)]


def as_dict(result: IntraResult) -> dict[str, Any]:
    return asdict(result)
