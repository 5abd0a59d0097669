"""The paper's workloads (Table III) as data: which contract function a transaction
calls, what its scale knob means, and the scales each experiment sweeps.

The benchmarks, ``pavm loadtest`` and the locustfile all take a workload by name from
:data:`WORKLOADS` and hand it to :class:`loadtest.workloads.generator.TxGenerator`, so every tool
sends the same transactions. Every contract workload ends its call with a ``key``: a
read-modify-write of ``results[key]`` (or, for token workloads, a receiver) that the
generator points at one hot key to make transactions conflict.

Scales are smaller than the paper's: py-evm interprets EVM code about a hundred times
slower than Geth, so the paper's inputs would take minutes per block here. Each
workload keeps the paper's axis and reports the paper's range next to ours.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loadtest.workloads.contracts import load

HOT_KEY = 0
"""The key every conflicting transaction of a contract workload writes."""


@dataclass(frozen=True)
class TxInput:
    """What varies between two transactions of one workload."""

    scale: int
    key: int
    """``HOT_KEY`` for a conflicting transaction, else the sender's or its group's own."""
    seed: int
    """Input of the contract's pseudo-random data (differs per transaction)."""
    sender: str
    receiver: str
    """0x-addresses; the receiver is the hot account for conflicting token transfers."""


CallArgs = Callable[[TxInput], tuple[str, tuple[Any, ...]]]
"""A transaction's input -> (function name, arguments)."""
ParallelCallArgs = Callable[[TxInput, int], tuple[str, tuple[Any, ...]]]
"""A transaction's input and a number of threads -> (function name, arguments)."""


@dataclass(frozen=True, kw_only=True)
class Workload:
    """One row of the paper's Table III, with one function of its contract."""

    name: str
    """What users type: ``--workload fibonacci``."""
    paper_name: str
    """The name in the paper's figures."""
    parallelism: str
    """``inter`` (transactions in parallel) or ``intra`` (sub-functions on threads; see
    ``parallel_call``)."""
    contract: str | None = None
    """Artifact in ``loadtest/workloads/contracts/build``; ``None`` for plain ETH transfers."""
    call: CallArgs | None = None
    scale_label: str = "-"
    """What the scale means; ``-`` for a workload without a scale axis."""
    scales: tuple[int, ...] = (0,)
    """The full run's x-axis (Figs. 14 and 18)."""
    quick_scales: tuple[int, ...] = (0,)
    """``--quick``: two small points of the same axis."""
    paper_scales: str = "-"
    """The paper's x-axis, for the report."""
    base_gas: int
    gas_per_unit: int = 0
    """Gas limit = base + per_unit * scale ** gas_power: an upper bound measured on the
    contracts (unused gas is refunded), tight enough to pack blocks."""
    tokens: bool = False
    """Senders need tokens (ERC20 setup: deploy, then ``distribute``)."""
    approve_self: bool = False
    """Each sender approves itself once so ``transferFrom`` has an allowance to spend."""
    table: bool = False
    """The key-value table must be filled up to the largest scale before reads."""
    gas_power: int = 1
    max_scale: int = 0
    """The contract's own bound on the scale (it reverts above)."""
    parallel_call: ParallelCallArgs | None = None
    """The same work split over threads of the fork-join precompile (intra workloads)."""
    intra_scales: tuple[int, ...] = ()
    """One large transaction's x-axis (``pavm bench intra``, the paper's Fig. 15)."""
    intra_quick_scales: tuple[int, ...] = ()
    """``--quick``: two small points of the same axis."""

    def parallel_call_data(self, tx: TxInput, threads: int) -> bytes:
        """ABI call data of the parallel version of one transaction."""
        if self.parallel_call is None or self.contract is None:
            raise ValueError(f"{self.name} has no parallel version")
        function, args = self.parallel_call(tx, threads)
        return load(self.contract).call_data(function, *args)

    def gas(self, scale: int) -> int:
        """Gas limit of one transaction at ``scale``."""
        return self.base_gas + self.gas_per_unit * int(scale**self.gas_power)

    def call_data(self, tx: TxInput) -> bytes:
        """ABI call data of one transaction (empty for ETH transfers)."""
        if self.call is None or self.contract is None:
            return b""
        function, args = self.call(tx)
        return load(self.contract).call_data(function, *args)

    @property
    def default_scale(self) -> int:
        """The scale used where none is given, and where a full run fixes it (Figs. 17,
        19/20): the second of the full run's, a 300-transaction block of 1-5 s here."""
        return self.scales[1] if len(self.scales) > 1 else self.scales[0]

    def scales_for(self, quick: bool) -> tuple[int, ...]:
        return self.quick_scales if quick else self.scales


SUBSTRING_PATTERN = b"acg"
HISTOGRAM_RANGE = (250, 750)

_TOKEN_AMOUNT = 1

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            name="transfer",
            paper_name="ETH transfer",
            parallelism="inter",
            base_gas=21_000,
        ),
        Workload(
            name="erc20",
            paper_name="ERC20 transfer",
            parallelism="inter",
            contract="erc20",
            call=lambda i: ("transfer", (i.receiver, _TOKEN_AMOUNT)),
            paper_scales="function type",
            base_gas=80_000,
            tokens=True,
        ),
        Workload(
            name="erc20-approve",
            paper_name="ERC20 approve",
            parallelism="inter",
            contract="erc20",
            call=lambda i: ("approve", (i.receiver, 10**18 + i.seed)),
            paper_scales="function type",
            base_gas=80_000,
        ),
        Workload(
            name="erc20-transferfrom",
            paper_name="ERC20 transferFrom",
            parallelism="inter",
            contract="erc20",
            call=lambda i: ("transferFrom", (i.sender, i.receiver, _TOKEN_AMOUNT)),
            paper_scales="function type",
            base_gas=100_000,
            tokens=True,
            approve_self=True,
        ),
        Workload(
            name="fibonacci",
            paper_name="Fibonacci",
            parallelism="inter",
            contract="fibonacci",
            call=lambda i: ("run", (i.scale, i.key)),
            scale_label="sequence length",
            scales=(250, 500, 1000, 2000),
            quick_scales=(50, 150),
            paper_scales="50,000-350,000",
            base_gas=60_000,
            gas_per_unit=100,
            max_scale=1_000_000,
        ),
        Workload(
            name="cpuheavy",
            paper_name="CPUHeavy",
            parallelism="inter",
            contract="cpuheavy",
            call=lambda i: ("run", (i.scale, i.seed, i.key)),
            scale_label="array size",
            scales=(8, 16, 32, 64),
            quick_scales=(4, 12),
            paper_scales="90-210",
            base_gas=80_000,
            gas_per_unit=3_500,
            max_scale=1_024,
        ),
        Workload(
            name="kvstore-read",
            paper_name="KVStore (read)",
            parallelism="inter",
            contract="kvstore",
            call=lambda i: ("read", (i.scale, i.key)),
            scale_label="reads per transaction",
            scales=(50, 150, 500, 1000),
            quick_scales=(10, 100),
            paper_scales="R6,000-R10,000",
            base_gas=60_000,
            gas_per_unit=2_300,
            table=True,
            max_scale=10_000,
        ),
        Workload(
            name="kvstore-write",
            paper_name="KVStore (write)",
            parallelism="inter",
            contract="kvstore",
            call=lambda i: ("write", (i.scale, i.key)),
            scale_label="writes per transaction",
            scales=(10, 25, 50, 100),
            quick_scales=(1, 10),
            paper_scales="W6,000-W10,000",
            base_gas=70_000,
            gas_per_unit=22_600,
            max_scale=10_000,
        ),
        Workload(
            name="matrixmul",
            paper_name="MatrixMul",
            parallelism="intra",
            contract="matrix",
            call=lambda i: ("run_multiply", (i.scale, i.seed, i.key)),
            parallel_call=lambda i, t: ("run_multiply_parallel", (i.scale, i.seed, i.key, t)),
            intra_scales=(16, 24, 32, 48),
            intra_quick_scales=(4, 8),
            scale_label="matrix size n (n x n)",
            scales=(3, 4, 6, 8),
            quick_scales=(2, 4),
            paper_scales="10-35 (40-80 in Fig. 15)",
            base_gas=100_000,
            gas_per_unit=300,
            gas_power=3,
            max_scale=64,
        ),
        Workload(
            name="matrixadd",
            paper_name="MatrixAdd",
            parallelism="intra",
            contract="matrix",
            call=lambda i: ("run_add", (i.scale, i.seed, i.key)),
            parallel_call=lambda i, t: ("run_add_parallel", (i.scale, i.seed, i.key, t)),
            intra_scales=(32, 48, 64),
            intra_quick_scales=(8, 16),
            scale_label="matrix size n (n x n)",
            scales=(8, 12, 16, 24),
            quick_scales=(4, 8),
            paper_scales="90-210",
            base_gas=50_000,
            gas_per_unit=400,
            gas_power=2,
            max_scale=64,
        ),
        Workload(
            name="substring",
            paper_name="Substring",
            parallelism="intra",
            contract="substring",
            call=lambda i: ("run", (i.scale, i.seed, SUBSTRING_PATTERN, i.key)),
            parallel_call=lambda i, t: (
                "run_parallel",
                (i.scale, i.seed, SUBSTRING_PATTERN, i.key, t),
            ),
            intra_scales=(5_000, 10_000, 20_000, 40_000),
            intra_quick_scales=(300, 600),
            scale_label="string length",
            scales=(100, 300, 600, 1000),
            quick_scales=(30, 100),
            paper_scales="300-28,000",
            base_gas=60_000,
            gas_per_unit=310,
            max_scale=100_000,
        ),
        Workload(
            name="histogram",
            paper_name="Histogram",
            parallelism="intra",
            contract="histogram",
            call=lambda i: ("run", (i.scale, i.seed, *HISTOGRAM_RANGE, i.key)),
            parallel_call=lambda i, t: (
                "run_parallel",
                (i.scale, i.seed, *HISTOGRAM_RANGE, i.key, t),
            ),
            intra_scales=(5_000, 10_000, 20_000, 40_000),
            intra_quick_scales=(300, 600),
            scale_label="array size",
            scales=(100, 300, 600, 1000),
            quick_scales=(50, 100),
            paper_scales="600-14,000 (30,000-70,000 in Fig. 15)",
            base_gas=60_000,
            gas_per_unit=200,
            max_scale=100_000,
        ),
    )
}

PAPER_WORKLOADS = tuple(name for name in WORKLOADS if name != "transfer")
"""The eight contracts of Table III (ERC20 as its three functions)."""


def workload(name: str) -> Workload:
    """The workload called ``name``, or a ValueError that lists the choices."""
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(
            f"unknown workload {name!r}; choose one of {', '.join(WORKLOADS)}"
        ) from None
