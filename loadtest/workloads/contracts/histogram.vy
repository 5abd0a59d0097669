# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Histogram workload
@notice Scans a pseudo-random array of n integers in [0, 1000), element k being
        value_k % 1000 (value_k from the workloads' shared generator, below). The
        array is streamed, never stored: the work is arithmetic and comparisons.
        `run` adds the number of elements in [low, high) into `results[key]`:
        transactions on one hot key conflict, on distinct keys they are independent.
"""

from lib import forkjoin
from lib import lcg


MAX_N: constant(uint256) = 100_000
SPAN: constant(uint256) = 1000  # elements lie in [0, SPAN)

# The shared generator: x_0 = seed, x_{k+1} = x_k * LCG_MUL + LCG_INC mod 2**64,
# value_k = x_{k+1} >> 33.
LCG_MUL: constant(uint256) = 6364136223846793005
LCG_INC: constant(uint256) = 1442695040888963407
LCG_MASK: constant(uint256) = 2**64 - 1

results: public(HashMap[uint256, uint256])


@external
@view
def count(n: uint256, seed: uint256, low: uint256, high: uint256) -> uint256:
    """
    @notice How many elements v satisfy low <= v < high.
    """
    return self._count(n, seed, low, high)


@external
@view
def buckets(n: uint256, seed: uint256, width: uint256) -> DynArray[uint256, SPAN]:
    """
    @notice The histogram itself: entry b counts the elements with v // width == b;
            there are ceil(1000 / width) entries.
    """
    assert n <= MAX_N, "histogram: n exceeds 100000"
    assert width >= 1, "histogram: width must be at least 1"
    counts: DynArray[uint256, SPAN] = []
    for _: uint256 in range((SPAN - 1) // width + 1, bound=SPAN):
        counts.append(0)
    x: uint256 = seed
    for _: uint256 in range(n, bound=MAX_N):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        bucket: uint256 = (x >> 33) % SPAN // width
        counts[bucket] += 1
    return counts


@external
def run(n: uint256, seed: uint256, low: uint256, high: uint256, key: uint256):
    self.results[key] = unsafe_add(self.results[key], self._count(n, seed, low, high))


@internal
@pure
def _count(n: uint256, seed: uint256, low: uint256, high: uint256) -> uint256:
    assert n <= MAX_N, "histogram: n exceeds 100000"
    found: uint256 = 0
    x: uint256 = seed
    for _: uint256 in range(n, bound=MAX_N):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        value: uint256 = (x >> 33) % SPAN
        if low <= value and value < high:
            found += 1
    return found


# -- the parallel version: the array's parts on threads of the fork-join precompile --


@external
@view
def count_part(n: uint256, seed: uint256, low: uint256, high: uint256, first: uint256, size: uint256) -> uint256:
    """
    @notice How many of elements first .. first + size - 1 lie in [low, high).
    """
    assert first + size <= n and n <= MAX_N, "histogram: part out of range"
    found: uint256 = 0
    x: uint256 = lcg.jump(seed, first)
    for _: uint256 in range(size, bound=MAX_N):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        value: uint256 = (x >> 33) % SPAN
        if low <= value and value < high:
            found += 1
    return found


@external
def run_parallel(n: uint256, seed: uint256, low: uint256, high: uint256, key: uint256, threads: uint256):
    """
    @notice What `run` does, with the array split into `threads` parts that the
            fork-join precompile may run on separate cores.
    """
    assert threads >= 1 and threads <= forkjoin.MAX_THREADS, "histogram: 1 to 16 threads"
    datas: DynArray[Bytes[forkjoin.MAX_DATA], forkjoin.MAX_THREADS] = []
    for t: uint256 in range(threads, bound=forkjoin.MAX_THREADS):
        first: uint256 = n * t // threads
        size: uint256 = n * (t + 1) // threads - first
        datas.append(
            abi_encode(
                n, seed, low, high, first, size,
                method_id=method_id("count_part(uint256,uint256,uint256,uint256,uint256,uint256)"),
            )
        )
    self.results[key] = unsafe_add(self.results[key], forkjoin.sum_of(datas))
