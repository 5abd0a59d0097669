"""Time one job's block: unmodified py-evm (the paper's Geth role) against pavm's
parallel validation, plus what the figures asked for (recording, CPU profiles).

Every timing is the median of ``repeat`` runs on the same block and parent state;
roots_equal records that py-evm, the recording miner and every validator run ended on
the same state root, so no figure can show a fast but wrong validator.
"""

import statistics
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from common.chain.grouping import group_transactions
from loadtest.bench.cpu import profile
from loadtest.bench.paper.plan import Job, Needs
from loadtest.bench.validate import (
    Prepared,
    parallelism,
    prepare,
    time_parallel,
    time_recorded,
    time_serial,
    timed,
)
from loadtest.workloads.table import WORKLOADS


@dataclass(frozen=True)
class Measured:
    """One job's figures, as ``results.json`` lists them under ``runs``."""

    workload: str
    scale: int
    txs: int
    group_size: int
    serial_s: float
    parallel_s: dict[int, float]
    """Validation seconds per worker count."""
    record_s: float | None
    """Serial execution with the recording account database (Fig. 17d)."""
    grouping_ms: float
    groups: int
    largest_group: int
    gas_per_tx: int
    roots_equal: bool
    cpu_serial: list[float] | None = None
    """Per-core utilisation (percent) while py-evm executed the block."""
    cpu_parallel: list[float] | None = None
    """Per-core utilisation while pavm validated it on every core."""
    cpu_samples: dict[str, list[list[float]]] | None = None
    """psutil's per-core samples (every 50 ms) behind those means: serial, parallel."""
    threads: int = 0
    """Sub-calls per transaction (0: the serial contract)."""
    parallelism: str = "inter"
    """What the parallel runs used: "inter", "intra" or "both"."""

    @property
    def job(self) -> Job:
        return Job(self.workload, self.scale, self.txs, self.group_size, self.threads)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["parallel_s"] = {str(k): v for k, v in self.parallel_s.items()}
        return data


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 5)


def measure(job: Job, needs: Needs, repeat: int) -> Measured:
    """Build the job's block once, then time everything ``needs`` asks for."""
    spec = WORKLOADS[job.workload]
    prepared: Prepared = prepare(
        spec, job.scale, job.txs, group_size=job.group_size, threads=job.threads
    )
    block = prepared.timed[0]
    serial, record = [], []
    roots_equal = True
    for _ in range(repeat):
        seconds, same = time_serial(prepared)
        serial.append(seconds)
        roots_equal &= same
        if needs.record:
            record.append(time_recorded(prepared))
    parallel: dict[int, float] = {}
    lent = 0
    for workers in sorted(needs.workers):
        runs = []
        for _ in range(repeat):
            seconds, reports, same, _ = time_parallel(prepared, workers)
            runs.append(seconds)
            roots_equal &= same
            lent += sum(r.subcalls_lent for r in reports)
        parallel[workers] = _median(runs)
    cpu_serial = cpu_parallel = None
    cpu_samples = None
    if needs.cpu:
        (_, same), serial_profile = profile(partial(time_serial, prepared))
        _, _, same_parallel, parallel_profile = time_parallel(
            prepared, max(needs.workers), cpu=True
        )
        assert parallel_profile is not None
        roots_equal &= same and same_parallel
        cpu_serial, cpu_parallel = serial_profile.mean, parallel_profile.mean
        cpu_samples = {"serial": serial_profile.samples, "parallel": parallel_profile.samples}
    grouping = min(timed(partial(group_transactions, block.block.rwsets))[0] for _ in range(5))
    return Measured(
        workload=job.workload,
        scale=job.scale,
        txs=job.txs,
        group_size=job.group_size,
        serial_s=_median(serial),
        parallel_s=parallel,
        record_s=_median(record) if record else None,
        grouping_ms=round(grouping * 1000, 3),
        groups=len(block.block.groups),
        largest_group=max(len(g) for g in block.block.groups),
        gas_per_tx=block.block.header.gas_used // max(1, job.txs),
        roots_equal=roots_equal,
        cpu_serial=cpu_serial,
        cpu_parallel=cpu_parallel,
        cpu_samples=cpu_samples,
        threads=job.threads,
        parallelism=parallelism(prepared.timed, lent),
    )
