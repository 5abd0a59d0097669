"""The paper's workloads (Table III) as data: which contract function a transaction
calls, what its scale knob means, and the scales each experiment sweeps.

The benchmarks, ``pavm loadtest`` and the locustfile all take a workload by name from
:data:`WORKLOADS` and hand it to :class:`loadtest.generator.TxGenerator`, so every tool
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

from loadtest.contracts import load

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


@dataclass(frozen=True)
class Workload:
    """One row of the paper's Table III, with one function of its contract."""

    name: str
    """What users type: ``--workload fibonacci``."""
    paper_name: str
    """The name in the paper's figures."""
    parallelism: str
    """``inter`` (transactions in parallel) or ``intra`` (sub-functions on threads in the
    paper; executed serially inside each transaction here)."""
    contract: str | None
    """Artifact in ``loadtest/contracts/build``; ``None`` for plain ETH transfers."""
    call: CallArgs | None
    scale_label: str
    scales: tuple[int, ...]
    """The full run's x-axis (Figs. 14 and 18)."""
    quick_scales: tuple[int, ...]
    """``--quick``: two small points of the same axis."""
    paper_scales: str
    """The paper's x-axis, for the report."""
    base_gas: int
    gas_per_unit: int
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
        Workload("transfer", "ETH transfer", "inter", None, None, "-", (0,), (0,), "-", 21_000, 0),
        Workload(
            "erc20",
            "ERC20 transfer",
            "inter",
            "erc20",
            lambda i: ("transfer", (i.receiver, _TOKEN_AMOUNT)),
            "-",
            (0,),
            (0,),
            "function type",
            80_000,
            0,
            tokens=True,
        ),
        Workload(
            "erc20-approve",
            "ERC20 approve",
            "inter",
            "erc20",
            lambda i: ("approve", (i.receiver, 10**18 + i.seed)),
            "-",
            (0,),
            (0,),
            "function type",
            80_000,
            0,
        ),
        Workload(
            "erc20-transferfrom",
            "ERC20 transferFrom",
            "inter",
            "erc20",
            lambda i: ("transferFrom", (i.sender, i.receiver, _TOKEN_AMOUNT)),
            "-",
            (0,),
            (0,),
            "function type",
            100_000,
            0,
            tokens=True,
            approve_self=True,
        ),
        Workload(
            "fibonacci",
            "Fibonacci",
            "inter",
            "fibonacci",
            lambda i: ("run", (i.scale, i.key)),
            "sequence length",
            (250, 500, 1000, 2000),
            (50, 150),
            "50,000-350,000",
            60_000,
            100,
            max_scale=1_000_000,
        ),
        Workload(
            "cpuheavy",
            "CPUHeavy",
            "inter",
            "cpuheavy",
            lambda i: ("run", (i.scale, i.seed, i.key)),
            "array size",
            (8, 16, 32, 64),
            (4, 12),
            "90-210",
            80_000,
            3_500,
            max_scale=1_024,
        ),
        Workload(
            "kvstore-read",
            "KVStore (read)",
            "inter",
            "kvstore",
            lambda i: ("read", (i.scale, i.key)),
            "reads per transaction",
            (50, 150, 500, 1000),
            (10, 100),
            "R6,000-R10,000",
            60_000,
            2_300,
            table=True,
            max_scale=10_000,
        ),
        Workload(
            "kvstore-write",
            "KVStore (write)",
            "inter",
            "kvstore",
            lambda i: ("write", (i.scale, i.key)),
            "writes per transaction",
            (10, 25, 50, 100),
            (1, 10),
            "W6,000-W10,000",
            70_000,
            22_600,
            max_scale=10_000,
        ),
        Workload(
            "matrixmul",
            "MatrixMul",
            "intra",
            "matrix",
            lambda i: ("run_multiply", (i.scale, i.seed, i.key)),
            "matrix size n (n x n)",
            (3, 4, 6, 8),
            (2, 4),
            "10-35 (40-80 in Fig. 15)",
            100_000,
            300,
            gas_power=3,
            max_scale=64,
        ),
        Workload(
            "matrixadd",
            "MatrixAdd",
            "intra",
            "matrix",
            lambda i: ("run_add", (i.scale, i.seed, i.key)),
            "matrix size n (n x n)",
            (8, 12, 16, 24),
            (4, 8),
            "90-210",
            50_000,
            400,
            gas_power=2,
            max_scale=64,
        ),
        Workload(
            "substring",
            "Substring",
            "intra",
            "substring",
            lambda i: ("run", (i.scale, i.seed, SUBSTRING_PATTERN, i.key)),
            "string length",
            (100, 300, 600, 1000),
            (30, 100),
            "300-28,000",
            60_000,
            310,
            max_scale=100_000,
        ),
        Workload(
            "histogram",
            "Histogram",
            "intra",
            "histogram",
            lambda i: ("run", (i.scale, i.seed, *HISTOGRAM_RANGE, i.key)),
            "array size",
            (100, 300, 600, 1000),
            (50, 100),
            "600-14,000 (30,000-70,000 in Fig. 15)",
            60_000,
            200,
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
