# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Key-value store workload
@notice Storage-bound work: `read` makes n distinct storage reads of `table` (filled
        once by `fill`), `write` makes n read-modify-writes in `data[key]`.
        Both add their digest into `results[key]`: transactions on one hot key
        conflict (and, for `write`, also share the same `data[key]` slots), while
        transactions on distinct keys are independent.
"""

MAX_N: constant(uint256) = 10_000
MAX_FILL: constant(uint256) = 2_000

results: public(HashMap[uint256, uint256])
table: public(HashMap[uint256, uint256])
data: public(HashMap[uint256, HashMap[uint256, uint256]])


@external
def fill(start: uint256, count: uint256):
    """
    @notice Set table[start + i] = start + i + 1 for i < count: the setup step of
            `read`, split into several calls when the table is large.
    """
    assert count <= MAX_FILL, "kvstore: count exceeds 2000"
    for i: uint256 in range(count, bound=MAX_FILL):
        self.table[start + i] = start + i + 1


@external
@view
def total(n: uint256) -> uint256:
    """
    @notice table[0] + ... + table[n - 1], mod 2**256.
    """
    return self._total(n)


@external
def read(n: uint256, key: uint256):
    self.results[key] = unsafe_add(self.results[key], self._total(n))


@external
def write(n: uint256, key: uint256):
    """
    @notice Add i + 1 to data[key][i] for i < n; the digest is n.
    """
    assert n <= MAX_N, "kvstore: n exceeds 10000"
    for i: uint256 in range(n, bound=MAX_N):
        self.data[key][i] = unsafe_add(self.data[key][i], i + 1)
    self.results[key] = unsafe_add(self.results[key], n)


@internal
@view
def _total(n: uint256) -> uint256:
    assert n <= MAX_N, "kvstore: n exceeds 10000"
    total: uint256 = 0
    for i: uint256 in range(n, bound=MAX_N):
        total = unsafe_add(total, self.table[i])
    return total
