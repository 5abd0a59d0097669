# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Fibonacci workload
@notice Pure arithmetic: F(n) mod 2**256 by n loop iterations, with no storage or
        memory traffic besides the one result, so its cost is the interpreter loop
        alone and grows linearly in n.
        `run` adds its output into `results[key]`: transactions on one hot key
        conflict, transactions on distinct keys are independent.
"""

MAX_N: constant(uint256) = 1_000_000

results: public(HashMap[uint256, uint256])


@external
@view
def fib(n: uint256) -> uint256:
    """
    @notice F(n) mod 2**256, with F(0) = 0 and F(1) = 1.
    """
    return self._fib(n)


@external
def run(n: uint256, key: uint256):
    self.results[key] = unsafe_add(self.results[key], self._fib(n))


@internal
@pure
def _fib(n: uint256) -> uint256:
    assert n <= MAX_N, "fibonacci: n exceeds 1000000"
    current: uint256 = 0  # F(i)
    following: uint256 = 1  # F(i + 1)
    for _: uint256 in range(n, bound=MAX_N):
        # Wrapping on purpose: the workload is defined mod 2**256.
        after: uint256 = unsafe_add(current, following)
        current = following
        following = after
    return current
