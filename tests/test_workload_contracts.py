"""The paper's workload contracts compute what their pure-Python references say.

Each view is compared with its reference on small inputs. Each ``run*`` entry point
is mined (the test ``Chain`` also checks unmodified py-evm's state root) and must add
the reference digest into ``results(key)``; two runs on one key add up, which is the
read-modify-write the benchmark's conflicts rest on.
"""

from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode
from eth_typing import Address

from common.chain.accounts import Wallet, contract_address
from common.chain.state import ChainState
from loadtest.workloads.contracts import load
from tests.conftest import Chain

WORKLOADS = ("fibonacci", "cpuheavy", "kvstore", "matrix", "substring", "histogram")
FILLED = 300
"""kvstore's table holds table[i] = i + 1 for i < FILLED."""
CALL_GAS = 500_000_000
RUN_GAS = 5_000_000
WORD = 2**256

# REFERENCES


def stream(seed: int, count: int) -> list[int]:
    """value_0 .. value_{count-1} of the workloads' shared generator."""
    x, values = seed, []
    for _ in range(count):
        x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
        values.append(x >> 33)
    return values


def fib(n: int) -> int:
    current, following = 0, 1
    for _ in range(n):
        current, following = following, current + following
    return current % WORD


def digest(cells: list[int]) -> int:
    return sum((i + 1) * cell for i, cell in enumerate(cells)) % WORD


def operands(n: int, seed: int) -> tuple[list[int], list[int]]:
    """A and B, row-major."""
    entries = [v % 100 for v in stream(seed, 2 * n * n)]
    return entries[: n * n], entries[n * n :]


def matrix_product(n: int, seed: int) -> list[int]:
    a, b = operands(n, seed)
    return [sum(a[i * n + k] * b[k * n + j] for k in range(n)) for i in range(n) for j in range(n)]


def matrix_sum(n: int, seed: int) -> list[int]:
    a, b = operands(n, seed)
    return [x + y for x, y in zip(a, b, strict=True)]


def dna(n: int, seed: int) -> bytes:
    return bytes(b"acgt"[v % 4] for v in stream(seed, n))


def occurrences(text: bytes, pattern: bytes) -> int:
    """Occurrences of ``pattern`` in ``text``, overlapping ones included."""
    return sum(text.startswith(pattern, i) for i in range(len(text)))


def histogram_values(n: int, seed: int) -> list[int]:
    return [v % 1000 for v in stream(seed, n)]


def in_range(n: int, seed: int, low: int, high: int) -> int:
    return sum(low <= v < high for v in histogram_values(n, seed))


def buckets(n: int, seed: int, width: int) -> list[int]:
    counts = [0] * -(-1000 // width)
    for v in histogram_values(n, seed):
        counts[v // width] += 1
    return counts


# CHAIN


@dataclass(frozen=True)
class Workloads:
    """The six contracts deployed (and kvstore's table filled) on top of genesis."""

    state: ChainState
    nonces: dict[bytes, int]
    address: dict[str, bytes]


@pytest.fixture(scope="module")
def workloads(genesis: ChainState, people: list[Wallet]) -> Workloads:
    chain = Chain(genesis)
    deployer = people[0]
    address = {name: contract_address(deployer.address, i) for i, name in enumerate(WORKLOADS)}
    chain.mine(
        [
            chain.tx(deployer, None, data=load(name).deploy_data(), gas=3_000_000)
            for name in WORKLOADS
        ]
    )
    fill = load("kvstore").call_data("fill", 0, FILLED)
    chain.mine([chain.tx(deployer, address["kvstore"], data=fill, gas=RUN_GAS * 2)])
    return Workloads(chain.state, dict(chain.nonces), address)


@pytest.fixture
def workload_chain(workloads: Workloads) -> Chain:
    return Chain(workloads.state, dict(workloads.nonces))


def call(workloads: Workloads, name: str, function: str, *args: Any) -> Any:
    """Run a read-only call on the deployed contract the way ``eth_call`` does
    (``EthApi._run_call``): a spoofed, fee-free transaction on py-evm's own state."""
    env = replace(workloads.state.next_env(bytes(20)), gas_limit=CALL_GAS, base_fee=0)
    state = workloads.state.reference_state(env)
    sender = Address(bytes(20))
    unsigned = PragueTransactionBuilder.create_unsigned_transaction(
        nonce=state.get_nonce(sender),
        gas_price=0,
        gas=CALL_GAS,
        to=Address(workloads.address[name]),
        value=0,
        data=load(name).call_data(function, *args),
    )
    return state.apply_transaction(SpoofTransaction(unsigned, from_=sender))


def view(workloads: Workloads, name: str, function: str, *args: Any) -> Any:
    """The single value a view returns."""
    computation = call(workloads, name, function, *args)
    assert not computation.is_error, computation.error
    entry = next(e for e in load(name).abi if e.get("name") == function)
    (value,) = decode([o["type"] for o in entry["outputs"]], computation.output)
    return value


# VIEWS


# F(93) < 2**64 < F(94); F(370) < 2**256 < F(371), so 371 and 1000 wrap.
@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 93, 94, 370, 371, 1000])
def test_fib(workloads, n):
    assert view(workloads, "fibonacci", "fib", n) == fib(n)


DUPLICATED = (100, 283422)
"""A size and seed whose values repeat (found by search; the test checks it)."""


@pytest.mark.parametrize(
    ("n", "seed"),
    [(0, 1), (1, 7), (2, 3), (3, 2**200 + 5), (7, 0), (31, 42), (300, 2024)],
)
def test_sort(workloads, n, seed):
    assert list(view(workloads, "cpuheavy", "sort", n, seed)) == sorted(stream(seed, n))


def test_sort_keeps_duplicates(workloads):
    n, seed = DUPLICATED
    values = stream(seed, n)
    assert len(set(values)) < n
    assert list(view(workloads, "cpuheavy", "sort", n, seed)) == sorted(values)


def test_sort_at_the_maximum_size(workloads):
    assert list(view(workloads, "cpuheavy", "sort", 1024, 9)) == sorted(stream(9, 1024))


@pytest.mark.parametrize("n", [0, 1, 2, 150, FILLED, FILLED + 50])
def test_kvstore_total(workloads, n):
    assert view(workloads, "kvstore", "total", n) == sum(range(1, min(n, FILLED) + 1))


@pytest.mark.parametrize(("n", "seed"), [(0, 1), (1, 5), (2, 8), (3, 13), (5, 2**70), (8, 99)])
def test_matrix(workloads, n, seed):
    assert list(view(workloads, "matrix", "multiply", n, seed)) == matrix_product(n, seed)
    assert list(view(workloads, "matrix", "add", n, seed)) == matrix_sum(n, seed)


TEXT = dna(2000, 77)


@pytest.mark.parametrize(
    "pattern",
    [b"a", b"aa", b"aaa", b"acg", b"gattaca", b"x", b"\x00a", TEXT[500:516], TEXT[-3:]],
)
@pytest.mark.parametrize("n", [0, 1, 2, 60, 2000])
def test_substring_count(workloads, n, pattern):
    expected = occurrences(dna(n, 77), pattern)
    assert view(workloads, "substring", "count", n, 77, pattern) == expected


def test_substring_counts_overlaps(workloads):
    assert occurrences(TEXT, b"aa") > TEXT.count(b"aa")  # the reference does count overlaps
    assert view(workloads, "substring", "count", 2000, 77, b"aa") == occurrences(TEXT, b"aa")


@pytest.mark.parametrize(
    ("low", "high"), [(0, 1000), (0, 0), (500, 400), (250, 750), (999, 1000), (0, WORD - 1)]
)
@pytest.mark.parametrize("n", [0, 1, 37, 2000])
def test_histogram_count(workloads, n, low, high):
    assert view(workloads, "histogram", "count", n, 3, low, high) == in_range(n, 3, low, high)


@pytest.mark.parametrize("width", [1, 3, 7, 333, 999, 1000, 1001, WORD - 1])
@pytest.mark.parametrize("n", [0, 37, 2000])
def test_histogram_buckets(workloads, n, width):
    assert list(view(workloads, "histogram", "buckets", n, 5, width)) == buckets(n, 5, width)


# RUNS


RUNS = [
    pytest.param("fibonacci", "run", [(1,), (500,)], fib, id="fibonacci.run"),
    pytest.param(
        "cpuheavy",
        "run",
        [(1, 4), (57, 6)],
        lambda n, seed: digest(sorted(stream(seed, n))),
        id="cpuheavy.run",
    ),
    pytest.param(
        "kvstore", "read", [(1,), (FILLED,)], lambda n: sum(range(1, n + 1)), id="kvstore.read"
    ),
    pytest.param("kvstore", "write", [(1,), (40,)], lambda n: n, id="kvstore.write"),
    pytest.param(
        "matrix",
        "run_multiply",
        [(1, 3), (6, 4)],
        lambda n, seed: digest(matrix_product(n, seed)),
        id="matrix.run_multiply",
    ),
    pytest.param(
        "matrix",
        "run_add",
        [(1, 3), (7, 4)],
        lambda n, seed: digest(matrix_sum(n, seed)),
        id="matrix.run_add",
    ),
    pytest.param(
        "substring",
        "run",
        [(300, 1, b"ac"), (900, 2, b"aa")],
        lambda n, seed, pattern: occurrences(dna(n, seed), pattern),
        id="substring.run",
    ),
    pytest.param(
        "histogram", "run", [(10, 1, 0, 500), (700, 2, 10, 20)], in_range, id="histogram.run"
    ),
]
"""Each run entry point, two inputs for it, and the reference digest of an input."""


@pytest.mark.parametrize(("name", "function", "inputs", "reference"), RUNS)
def test_runs_accumulate_the_digest(
    workloads, workload_chain, people, name, function, inputs, reference
):
    key = 7
    txs = [
        workload_chain.tx(
            people[1],
            workloads.address[name],
            data=load(name).call_data(function, *args, key),
            gas=RUN_GAS,
        )
        for args in inputs
    ]
    built = workload_chain.mine(txs)
    assert [o.receipt.status for o in built.outcomes] == [1, 1]
    after = replace(workloads, state=workload_chain.state)
    expected = sum(reference(*args) for args in inputs) % WORD
    assert view(after, name, "results", key) == expected
    assert view(after, name, "results", key + 1) == 0


def test_kvstore_write_adds_into_the_keys_slots(workloads, workload_chain, people):
    kvstore = load("kvstore")
    txs = [
        workload_chain.tx(
            people[1],
            workloads.address["kvstore"],
            data=kvstore.call_data("write", n, 3),
            gas=RUN_GAS,
        )
        for n in (5, 3)
    ]
    workload_chain.mine(txs)
    after = replace(workloads, state=workload_chain.state)
    assert [view(after, "kvstore", "data", 3, i) for i in range(6)] == [2, 4, 6, 4, 5, 0]
    assert view(after, "kvstore", "data", 4, 0) == 0


# BOUNDS


OVER_BOUND = [
    ("fibonacci", "fib", (1_000_001,), "fibonacci: n exceeds 1000000"),
    ("fibonacci", "run", (1_000_001, 0), "fibonacci: n exceeds 1000000"),
    ("cpuheavy", "sort", (1025, 1), "cpuheavy: n exceeds 1024"),
    ("cpuheavy", "run", (1025, 1, 0), "cpuheavy: n exceeds 1024"),
    ("kvstore", "fill", (0, 2001), "kvstore: count exceeds 2000"),
    ("kvstore", "total", (10_001,), "kvstore: n exceeds 10000"),
    ("kvstore", "read", (10_001, 0), "kvstore: n exceeds 10000"),
    ("kvstore", "write", (10_001, 0), "kvstore: n exceeds 10000"),
    ("matrix", "multiply", (65, 1), "matrix: n exceeds 64"),
    ("matrix", "add", (65, 1), "matrix: n exceeds 64"),
    ("matrix", "run_multiply", (65, 1, 0), "matrix: n exceeds 64"),
    ("matrix", "run_add", (65, 1, 0), "matrix: n exceeds 64"),
    ("substring", "count", (100_001, 1, b"a"), "substring: n exceeds 100000"),
    ("substring", "count", (10, 1, b""), "substring: empty pattern"),
    ("substring", "run", (100_001, 1, b"a", 0), "substring: n exceeds 100000"),
    ("histogram", "count", (100_001, 1, 0, 10), "histogram: n exceeds 100000"),
    ("histogram", "buckets", (100_001, 1, 10), "histogram: n exceeds 100000"),
    ("histogram", "buckets", (10, 1, 0), "histogram: width must be at least 1"),
    ("histogram", "run", (100_001, 1, 0, 10, 0), "histogram: n exceeds 100000"),
]


@pytest.mark.parametrize(
    ("name", "function", "args", "reason"),
    OVER_BOUND,
    ids=[f"{name}.{function}-{reason.split(': ')[1]}" for name, function, _, reason in OVER_BOUND],
)
def test_out_of_bounds_inputs_revert_with_a_reason(workloads, name, function, args, reason):
    computation = call(workloads, name, function, *args)
    assert computation.is_error
    selector, payload = computation.output[:4], computation.output[4:]
    assert selector == bytes.fromhex("08c379a0")  # Error(string)
    assert decode(["string"], payload) == (reason,)


PARALLEL_RUNS = [
    pytest.param(
        "matrix",
        "run_multiply_parallel",
        (7, 4),
        lambda n, seed: digest(matrix_product(n, seed)),
        id="matrix.run_multiply_parallel",
    ),
    pytest.param(
        "matrix",
        "run_add_parallel",
        (7, 5),
        lambda n, seed: digest(matrix_sum(n, seed)),
        id="matrix.run_add_parallel",
    ),
    pytest.param(
        "substring",
        "run_parallel",
        (901, 2, b"aca"),
        lambda n, seed, pattern: occurrences(dna(n, seed), pattern),
        id="substring.run_parallel",
    ),
    pytest.param(
        "histogram", "run_parallel", (703, 3, 10, 400), in_range, id="histogram.run_parallel"
    ),
]
"""The intra workloads' parallel versions: their parts run as fork-join sub-calls."""


@pytest.mark.parametrize(("name", "function", "args", "reference"), PARALLEL_RUNS)
def test_parallel_versions_compute_what_the_serial_ones_do(
    workloads, workload_chain, people, name, function, args, reference
):
    """Split over 1, 2, 3 and 5 threads (parts of unequal sizes, segments whose
    matches straddle a boundary), each adds the serial reference into its key."""
    threads = (1, 2, 3, 5)
    txs = [
        workload_chain.tx(
            people[2],
            workloads.address[name],
            data=load(name).call_data(function, *args, key, t),
            gas=RUN_GAS * 2,
        )
        for key, t in enumerate(threads, start=20)
    ]
    built = workload_chain.mine(txs)
    assert [o.receipt.status for o in built.outcomes] == [1] * len(threads)
    after = replace(workloads, state=workload_chain.state)
    for key in range(20, 20 + len(threads)):
        assert view(after, name, "results", key) == reference(*args)
