# pragma version 0.4.3
# pragma evm-version cancun
"""
@title CPU-heavy workload: sorting
@notice Sorts n pseudo-random values (value_0 .. value_{n-1} of the workloads' shared
        generator, below) by quicksort: comparisons, swaps and memory traffic, about
        n log n steps. Vyper forbids recursion, so the quicksort keeps its pending
        ranges on an explicit stack.
        `run` adds a digest of the sorted array into `results[key]`: transactions on
        one hot key conflict, transactions on distinct keys are independent.
"""

MAX_N: constant(uint256) = 1024
# Pending ranges never exceed log2(MAX_N): see the stack comment in `_sorted`.
MAX_PENDING: constant(uint256) = 10

# The shared generator: x_0 = seed, x_{k+1} = x_k * LCG_MUL + LCG_INC mod 2**64,
# value_k = x_{k+1} >> 33.
LCG_MUL: constant(uint256) = 6364136223846793005
LCG_INC: constant(uint256) = 1442695040888963407
LCG_MASK: constant(uint256) = 2**64 - 1

results: public(HashMap[uint256, uint256])


@external
@view
def sort(n: uint256, seed: uint256) -> DynArray[uint256, MAX_N]:
    """
    @notice value_0 .. value_{n-1}, in ascending order.
    """
    return self._sorted(n, seed)


@external
def run(n: uint256, seed: uint256, key: uint256):
    """
    @notice Sort, then digest the sorted array a as sum((i + 1) * a[i]) mod 2**256.
    """
    self.results[key] = unsafe_add(self.results[key], self._digest(self._sorted(n, seed)))


@internal
@pure
def _sorted(n: uint256, seed: uint256) -> DynArray[uint256, MAX_N]:
    assert n <= MAX_N, "cpuheavy: n exceeds 1024"
    a: DynArray[uint256, MAX_N] = []
    x: uint256 = seed
    for _: uint256 in range(n, bound=MAX_N):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        a.append(x >> 33)

    # STACK: ranges still to sort, as inclusive (lo, hi) pairs of at least two
    # elements. Of a partition's two sides the larger is pushed first, so the smaller
    # is popped next: the range at depth d then holds at most n / 2**(d - 1)
    # elements, which bounds the depth by log2(n).
    pending: DynArray[uint256, 2 * MAX_PENDING] = []
    if n > 1:
        pending.append(0)
        pending.append(n - 1)
    # Each round puts one pivot in its final place, so n rounds always suffice.
    for _: uint256 in range(MAX_N):
        if len(pending) == 0:
            break
        hi: uint256 = pending.pop()
        lo: uint256 = pending.pop()

        # PARTITION (Lomuto) around the middle element, parked at hi meanwhile.
        middle: uint256 = (lo + hi) // 2
        pivot: uint256 = a[middle]
        a[middle] = a[hi]
        p: uint256 = lo
        for j: uint256 in range(lo, hi, bound=MAX_N):
            if a[j] < pivot:
                smaller: uint256 = a[j]
                a[j] = a[p]
                a[p] = smaller
                p += 1
        a[hi] = a[p]
        a[p] = pivot

        # PUSH the sides a[lo:p] (below the pivot) and a[p+1:hi+1], larger first.
        below: uint256 = p - lo
        above: uint256 = hi - p
        if below < above:
            if above > 1:
                pending.append(p + 1)
                pending.append(hi)
            if below > 1:
                pending.append(lo)
                pending.append(p - 1)
        else:
            if below > 1:
                pending.append(lo)
                pending.append(p - 1)
            if above > 1:
                pending.append(p + 1)
                pending.append(hi)
    return a


@internal
@pure
def _digest(a: DynArray[uint256, MAX_N]) -> uint256:
    digest: uint256 = 0
    for i: uint256 in range(len(a), bound=MAX_N):
        digest = unsafe_add(digest, unsafe_mul(i + 1, a[i]))
    return digest
