"""Which blocks the paper's figures need, as a list of jobs without duplicates.

A job is one block to build and time: a workload at a scale, a number of transactions
and a conflict structure. Figures share jobs (Fig. 16 is a view of Fig. 14's blocks,
Fig. 17a's largest block is Fig. 14's), so each is measured once with everything any
figure wants from it: worker counts, recording time, CPU profiles.
"""

from dataclasses import dataclass, field

from loadtest.workloads.table import PAPER_WORKLOADS, WORKLOADS

FIG17_WORKLOADS = ("erc20", "fibonacci", "cpuheavy", "kvstore-write")
"""The paper's Fig. 17 contracts: ERC20, Fibonacci, CPUheavy, KVstore."""
FIG19_WORKLOADS = ("matrixmul", "matrixadd", "substring", "histogram")
FIG15_WORKLOADS = FIG19_WORKLOADS
"""The intra-contract workloads: one transaction of their parallel contract each."""
FIG20_WORKLOADS = ("fibonacci", "cpuheavy", "kvstore-write")
HEATMAP_WORKLOAD = "erc20"


@dataclass(frozen=True)
class Settings:
    """One run of the whole evaluation."""

    quick: bool
    txs: int
    """Transactions per block (the paper's 300)."""
    repeat: int
    """Timings per measurement; the median is reported."""
    cores: int


@dataclass(frozen=True, order=True)
class Job:
    workload: str
    scale: int
    txs: int
    group_size: int = 0
    """0: no conflicts; g: consecutive runs of g transactions share one key."""
    threads: int = 0
    """0: the serial contract; T: an intra workload's parallel one, T sub-calls each."""


@dataclass
class Needs:
    """What the figures want measured on one job's block."""

    workers: set[int] = field(default_factory=set)
    record: bool = False
    cpu: bool = False


def threads_of(workload: str, settings: Settings) -> int:
    """Sub-calls per transaction of a block figure's job: one per core for the intra
    workloads (their parallel contracts), none for the others."""
    return settings.cores if WORKLOADS[workload].parallelism == "intra" else 0


def fixed_scale(workload: str, quick: bool) -> int:
    """The scale where an experiment holds it fixed (Figs. 16/17/19/20)."""
    spec = WORKLOADS[workload]
    return spec.quick_scales[-1] if quick else spec.default_scale


def tx_counts(settings: Settings) -> list[int]:
    """Fig. 17a's x-axis: block sizes up to the run's, in the paper's proportions."""
    steps = (100, 300) if settings.quick else (50, 100, 200, 300)
    return sorted({max(1, settings.txs * step // 300) for step in steps})


def group_sizes(settings: Settings) -> list[int]:
    """Fig. 17b's x-axis: transactions per conflict group, the whole block at most."""
    steps = (1, 10, 300) if settings.quick else (1, 5, 10, 30, 100, 300)
    return sorted({min(step, settings.txs) for step in steps})


def heatmap_axis(settings: Settings) -> list[int]:
    """Fig. 17d's axes (groups, and transactions per group)."""
    return [1, 5, 10] if settings.quick else [1, 5, 10, 20, 30]


def heatmap_cells(settings: Settings) -> list[tuple[int, int]]:
    """(groups, group size) cells measured: blocks of up to three times the run's size."""
    axis = heatmap_axis(settings)
    return [(g, s) for g in axis for s in axis if g * s <= 3 * settings.txs]


def plan(settings: Settings) -> dict[Job, Needs]:
    """Every job of the run, in the order it will be measured."""
    jobs: dict[Job, Needs] = {}
    every_core = settings.cores

    def need(job: Job, workers: int = every_core, record: bool = False, cpu: bool = False) -> None:
        needs = jobs.setdefault(job, Needs())
        needs.workers.add(workers)
        needs.record |= record
        needs.cpu |= cpu

    # Figs. 14, 16, 18: every workload across its scales (intra workloads on their
    # parallel contracts, so their blocks use both kinds of parallelism).
    for name in PAPER_WORKLOADS:
        for scale in WORKLOADS[name].scales_for(settings.quick):
            need(Job(name, scale, settings.txs, threads=threads_of(name, settings)))
    # Blocks of fewer transactions than cores: only intra-contract parallelism helps.
    for name in FIG15_WORKLOADS:
        need(Job(name, fixed_scale(name, settings.quick), 1, threads=settings.cores))
    # Fig. 20: CPU profiles at the fixed scale (Fig. 19 profiles one intra transaction).
    for name in FIG20_WORKLOADS:
        need(Job(name, fixed_scale(name, settings.quick), settings.txs), cpu=True)
    for name in FIG17_WORKLOADS:
        scale = fixed_scale(name, settings.quick)
        for txs in tx_counts(settings):  # Fig. 17a
            need(Job(name, scale, txs))
        for size in group_sizes(settings):  # Fig. 17b
            need(Job(name, scale, settings.txs, group_size=size))
        for workers in range(1, every_core + 1):  # Fig. 17c
            need(Job(name, scale, settings.txs), workers=workers)
    # Fig. 17d: recording and grouping time; no validation needed.
    scale = fixed_scale(HEATMAP_WORKLOAD, settings.quick)
    for groups, size in heatmap_cells(settings):
        job = Job(HEATMAP_WORKLOAD, scale, groups * size, group_size=size)
        jobs.setdefault(job, Needs()).record = True
    return jobs


def intra_jobs(settings: Settings) -> list[tuple[str, int]]:
    """Figs. 15 and 19: (workload, scale) of each one-transaction intra measurement."""
    return [
        (name, scale)
        for name in FIG15_WORKLOADS
        for scale in (
            WORKLOADS[name].intra_quick_scales if settings.quick else WORKLOADS[name].intra_scales
        )
    ]
