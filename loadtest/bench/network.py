"""``pavm bench network``: a process-mode testnet driven over JSON-RPC, measured end to end.

1. start a miner and N validators (genesis funds one sender per transaction);
2. run the workload's setup: deploy its contract, hand out tokens, fill tables, and
   with --compose fund the senders from a dev account (not measured);
3. send T pre-signed transactions in JSON-RPC batches, noting when each was sent;
4. watch blocks appear; a transaction's latency runs from its send to the first
   time it is seen in a block;
5. throughput counts mined transactions over chain time (the seconds spanned by the
   blocks holding workload transactions, inclusive, one-second resolution) and over
   wall time; validation times come from the validators' verdicts, and the serial
   baseline is unmodified py-evm re-executing each block here, so per-validator
   speedup = serial time / validation time for the same blocks.
"""

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from common.chain.accounts import Wallet, dev_accounts, mnemonic_wallets
from common.chain.block import Block
from common.chain.genesis import DEV_BALANCE
from common.chain.state import ChainConfig, ChainState
from common.evm.forks import apply_reference, decode_transaction
from loadtest.testnet import process as testnet
from loadtest.testnet.probe import head
from loadtest.testnet.settings import TestnetSettings
from loadtest.workloads.chain import (
    block_verdicts,
    chain_seconds,
    run_setup,
    send,
    wait_mined,
)
from loadtest.workloads.generator import TxGenerator
from loadtest.workloads.table import Workload
from loadtest.workloads.table import workload as get_workload


@dataclass(frozen=True)
class NetworkResult:
    workload: str
    txs: int
    validators: int
    workers: int
    transport: str
    blocks: int
    mined: int
    throughput_chain_tps: float
    throughput_wall_tps: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    serial_ms_per_block: float
    validation_ms: dict[str, float]
    """Mean validation time per block, per validator."""
    speedup: dict[str, float]
    """Serial py-evm time / validation time over the same blocks, per validator."""
    agreement: bool
    """Every validator agreed on every block of the run."""
    containers: dict[str, dict[str, float]] | None = None
    """With --compose: CPU seconds during the run and memory MB after it, per container."""


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _genesis_file(path: Path, senders: list[bytes]) -> None:
    alloc = {"0x" + a.address.hex(): {"balance": hex(DEV_BALANCE)} for a in dev_accounts()}
    for sender in senders:
        alloc["0x" + sender.hex()] = {"balance": hex(1000 * 10**18)}
    path.write_text(json.dumps({"chainId": 31337, "alloc": alloc}))


def _serial_ms(url: str, genesis: ChainState, numbers: list[int]) -> dict[int, float]:
    """Unmodified py-evm re-executing each block, timed here; blocks applied in order."""
    state = genesis
    timings = {}
    head = max(numbers)
    with httpx.Client(timeout=30) as client:
        for number in range(1, head + 1):
            block = Block.decode(client.get(f"{url}/blocks/{number}").content)
            header = block.header
            env = state.env_of(header)
            started = time.perf_counter()
            reference = state.reference_state(env)
            apply_reference(reference, [decode_transaction(raw) for raw in block.transactions])
            reference.persist()
            elapsed = time.perf_counter() - started
            if bytes(reference.state_root) != header.state_root:
                raise RuntimeError(f"py-evm disagrees with the chain at block {number}")
            state = state.advance(header)
            if number in numbers:
                timings[number] = elapsed * 1000
    return timings


@dataclass
class _Target:
    """A running testnet to measure: the miner's URL, validator names, its genesis."""

    url: str
    names: list[str]
    genesis: Any
    sample: Any = None
    """Called before and after the timed phase for per-container CPU and memory."""


def run_network_bench(
    workload: str,
    txs: int,
    settings: TestnetSettings,
    data_dir: Path | None = None,
    compose: bool = False,
) -> NetworkResult:
    """Start the testnet ``settings`` describes (processes on free ports with a genesis
    that funds the senders, or the compose stack), drive it, measure, stop it."""
    from common.chain.genesis import load_genesis

    config = ChainConfig()
    spec = get_workload(workload)
    senders = mnemonic_wallets(txs)
    if compose:
        from loadtest.testnet.stack import ComposeStack

        with ComposeStack(settings) as stack:
            target = _Target(stack.url, stack.validator_names(), load_genesis(None), stack.sample)
            funders = dev_accounts()[1:]
            return _measure(target, spec, senders, settings, config, funders)
    folder = Path(data_dir or tempfile.mkdtemp(prefix="pavm-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    genesis_path = folder / "genesis.json"
    _genesis_file(genesis_path, [s.address for s in senders])
    _progress(
        f"starting a testnet in {folder}: "
        f"1 miner, {settings.validators} validators x {settings.workers} workers"
    )
    placed = {"base_port": testnet.free_base_port(), "genesis": genesis_path}
    net = testnet.up(folder, settings.model_copy(update=placed), progress=lambda line: None)
    try:
        target = _Target(
            net.miner.url, [v.name for v in net.validators], load_genesis(genesis_path)
        )
        return _measure(target, spec, senders, settings, config)
    finally:
        testnet.down(net)


def _measure(
    target: _Target,
    workload: Workload,
    senders: list[Wallet],
    settings: TestnetSettings,
    config: ChainConfig,
    funders: Sequence[Wallet] = (),
) -> NetworkResult:
    """Set the workload up (funding senders from ``funders`` if genesis did not), send
    one transaction per sender, and measure."""
    url, names = target.url, target.names
    txs = len(senders)
    generator = TxGenerator(workload, workload.default_scale, config)
    deployer = dev_accounts(1)[0]
    run_setup(url, generator, deployer, senders, funders, progress=_progress)
    first_block = head(url) + 1
    raws = generator.block(senders)
    before = target.sample() if target.sample else None
    _progress(f"sending {len(raws)} transactions")
    started = time.monotonic()
    sent = send(url, raws)
    seen = wait_mined(url, {h for h, _ in sent}, timeout=300, after=first_block - 1)
    wall = max(seen.values(), default=started) - started
    latencies = sorted(seen[h] - t for h, t in sent if h in seen)
    numbers = list(range(first_block, head(url) + 1))
    seconds = chain_seconds(url, numbers[0], numbers[-1]) if numbers else 1
    _progress("waiting for every verdict")
    verdicts = {
        n: {v["validator"]: v for v in rows}
        for n, rows in block_verdicts(url, numbers, len(names), 300).items()
    }
    containers = target.sample(before) if target.sample else None
    _progress("re-executing the blocks with unmodified py-evm for the serial baseline")
    local = ChainState.genesis(target.genesis.alloc, target.genesis.config)
    serial = _serial_ms(url, local, numbers)
    validation = {
        name: statistics.mean(
            verdicts[n][name]["validation_ms"] for n in numbers if name in verdicts[n]
        )
        for name in names
        if any(name in verdicts[n] for n in numbers)
    }
    serial_mean = statistics.mean(serial.values()) if serial else 0.0
    return NetworkResult(
        workload=workload.name,
        txs=txs,
        validators=settings.validators,
        workers=settings.workers,
        transport=settings.transport,
        blocks=len(numbers),
        mined=len(seen),
        throughput_chain_tps=round(len(seen) / seconds, 1),
        throughput_wall_tps=round(len(seen) / wall, 1) if wall > 0 else 0.0,
        latency_p50_s=round(_percentile(latencies, 50), 3),
        latency_p95_s=round(_percentile(latencies, 95), 3),
        latency_p99_s=round(_percentile(latencies, 99), 3),
        serial_ms_per_block=round(serial_mean, 1),
        validation_ms={k: round(v, 1) for k, v in validation.items()},
        speedup={k: round(serial_mean / v, 2) if v else 0.0 for k, v in validation.items()},
        agreement=all(
            all(row.get(name, {}).get("agree") for name in names) for row in verdicts.values()
        ),
        containers=containers,
    )


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return values[index]


def as_dict(result: NetworkResult) -> dict[str, Any]:
    return asdict(result)
