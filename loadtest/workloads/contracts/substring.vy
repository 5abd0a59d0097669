# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Substring-count workload
@notice Counts the (overlapping) occurrences of a pattern in a pseudo-random DNA text
        of length n, whose character k is "acgt"[value_k % 4] (value_k from the
        workloads' shared generator, below).
        The text is streamed through a rolling window held in one word instead of
        being built in memory, whose gas grows quadratically with its size.
        `run` adds the count into `results[key]`: transactions on one hot key
        conflict, transactions on distinct keys are independent.
"""

from lib import forkjoin
from lib import lcg


MAX_N: constant(uint256) = 100_000
MAX_PATTERN: constant(uint256) = 16

# The shared generator: x_0 = seed, x_{k+1} = x_k * LCG_MUL + LCG_INC mod 2**64,
# value_k = x_{k+1} >> 33.
LCG_MUL: constant(uint256) = 6364136223846793005
LCG_INC: constant(uint256) = 1442695040888963407
LCG_MASK: constant(uint256) = 2**64 - 1

# The bytes of "acgt" in reverse (0x74676361), so that character c is the byte
# (ALPHABET >> (8 * c)) % 256.
ALPHABET: constant(uint256) = 1952932705

results: public(HashMap[uint256, uint256])


@external
@view
def count(n: uint256, seed: uint256, pattern: Bytes[MAX_PATTERN]) -> uint256:
    """
    @notice How many times `pattern` (non-empty) occurs in the text, overlaps included.
    """
    return self._count(n, seed, pattern)


@external
def run(n: uint256, seed: uint256, pattern: Bytes[MAX_PATTERN], key: uint256):
    self.results[key] = unsafe_add(self.results[key], self._count(n, seed, pattern))


@internal
@pure
def _count(n: uint256, seed: uint256, pattern: Bytes[MAX_PATTERN]) -> uint256:
    assert n <= MAX_N, "substring: n exceeds 100000"
    length: uint256 = len(pattern)
    assert length > 0, "substring: empty pattern"
    # The last `length` characters read, as a big-endian number: it equals `target`
    # exactly when the text ends with the pattern.
    target: uint256 = convert(pattern, uint256)
    mask: uint256 = (1 << (8 * length)) - 1
    window: uint256 = 0
    found: uint256 = 0
    # Before `length` characters the window is zero-padded: a pattern that starts
    # with NUL bytes must not match there, so matches count from k = length - 1.
    full: uint256 = length - 1
    x: uint256 = seed
    for k: uint256 in range(n, bound=MAX_N):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        character: uint256 = (ALPHABET >> (8 * ((x >> 33) % 4))) % 256
        window = ((window << 8) | character) & mask
        if k >= full and window == target:
            found += 1
    return found


# -- the parallel version: segments of the text on threads of the fork-join precompile --


@external
@view
def count_part(n: uint256, seed: uint256, pattern: Bytes[MAX_PATTERN], first: uint256, size: uint256) -> uint256:
    """
    @notice Occurrences of `pattern` that start at positions first .. first + size - 1
            (reading on past the segment for the ones that straddle its end).
    """
    assert n <= MAX_N and first + size <= n, "substring: part out of range"
    length: uint256 = len(pattern)
    assert length > 0, "substring: empty pattern"
    target: uint256 = convert(pattern, uint256)
    mask: uint256 = (1 << (8 * length)) - 1
    window: uint256 = 0
    found: uint256 = 0
    # Characters first .. last - 1; a match ends at k >= full (its start is in the part).
    last: uint256 = min(n, first + size + length - 1)
    full: uint256 = first + length - 1
    x: uint256 = lcg.jump(seed, first)
    for k: uint256 in range(first, last, bound=MAX_N):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        character: uint256 = (ALPHABET >> (8 * ((x >> 33) % 4))) % 256
        window = ((window << 8) | character) & mask
        if k >= full and window == target:
            found += 1
    return found


@external
def run_parallel(n: uint256, seed: uint256, pattern: Bytes[MAX_PATTERN], key: uint256, threads: uint256):
    """
    @notice What `run` does, with the text split into `threads` segments.
    """
    assert threads >= 1 and threads <= forkjoin.MAX_THREADS, "substring: 1 to 16 threads"
    datas: DynArray[Bytes[forkjoin.MAX_DATA], forkjoin.MAX_THREADS] = []
    for t: uint256 in range(threads, bound=forkjoin.MAX_THREADS):
        first: uint256 = n * t // threads
        datas.append(
            abi_encode(
                n, seed, pattern, first, n * (t + 1) // threads - first,
                method_id=method_id("count_part(uint256,uint256,bytes,uint256,uint256)"),
            )
        )
    self.results[key] = unsafe_add(self.results[key], forkjoin.sum_of(datas))
