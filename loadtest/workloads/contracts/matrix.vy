# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Matrix workloads: MatrixMul and MatrixAdd
@notice A and B are n x n matrices of integers below 100, row-major, drawn from the
        workloads' shared generator (below): A[i][j] = value_{i*n+j} % 100 and B is
        the next n*n values of the same stream.
        The views state the results plainly, for tests. The runs compute the same
        cells frugally, because Vyper reserves memory for an array's maximum size and
        places a caller's frame above its callees': sharing a helper that returns C
        would make every run, however small its n, pay memory gas for several 64 x 64
        matrices. `run_multiply` reserves B alone and streams A a row at a time;
        `run_add` reserves nothing and reads A and B from two cursors on the stream.
        Both runs add sum((i + 1) * C[i]) mod 2**256 over the cells of C into
        `results[key]`: transactions on one hot key conflict, on distinct keys they
        are independent.
"""

from lib import forkjoin
from lib import lcg


MAX_N: constant(uint256) = 64
MAX_CELLS: constant(uint256) = MAX_N * MAX_N
MODULUS: constant(uint256) = 100

# The shared generator: x_0 = seed, x_{k+1} = x_k * LCG_MUL + LCG_INC mod 2**64,
# value_k = x_{k+1} >> 33.
LCG_MUL: constant(uint256) = 6364136223846793005
LCG_INC: constant(uint256) = 1442695040888963407
LCG_MASK: constant(uint256) = 2**64 - 1

results: public(HashMap[uint256, uint256])


@external
@view
def multiply(n: uint256, seed: uint256) -> DynArray[uint256, MAX_CELLS]:
    """
    @notice C = A x B, row-major.
    """
    entries: DynArray[uint256, 2 * MAX_CELLS] = self._entries(n, seed)
    cells: uint256 = n * n
    c: DynArray[uint256, MAX_CELLS] = []
    for i: uint256 in range(n, bound=MAX_N):
        for j: uint256 in range(n, bound=MAX_N):
            cell: uint256 = 0
            for k: uint256 in range(n, bound=MAX_N):
                cell += entries[i * n + k] * entries[cells + k * n + j]
            c.append(cell)
    return c


@external
@view
def add(n: uint256, seed: uint256) -> DynArray[uint256, MAX_CELLS]:
    """
    @notice C = A + B, row-major.
    """
    entries: DynArray[uint256, 2 * MAX_CELLS] = self._entries(n, seed)
    cells: uint256 = n * n
    c: DynArray[uint256, MAX_CELLS] = []
    for i: uint256 in range(cells, bound=MAX_CELLS):
        c.append(entries[i] + entries[cells + i])
    return c


@external
def run_multiply(n: uint256, seed: uint256, key: uint256):
    assert n <= MAX_N, "matrix: n exceeds 64"
    cells: uint256 = n * n
    # B first: it starts n*n values into the stream.
    x: uint256 = lcg.jump(seed, cells)
    b: DynArray[uint256, MAX_CELLS] = []
    for _: uint256 in range(cells, bound=MAX_CELLS):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        b.append((x >> 33) % MODULUS)
    # Then A, one row at a time; each row of A gives that row of C.
    x = seed
    digest: uint256 = 0
    index: uint256 = 0
    row: DynArray[uint256, MAX_N] = []
    for i: uint256 in range(n, bound=MAX_N):
        row = []
        for k: uint256 in range(n, bound=MAX_N):
            x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
            row.append((x >> 33) % MODULUS)
        for j: uint256 in range(n, bound=MAX_N):
            # Entries are below 100 and n at most 64: nothing here can overflow.
            cell: uint256 = 0
            for k: uint256 in range(n, bound=MAX_N):
                cell = unsafe_add(cell, unsafe_mul(row[k], b[unsafe_add(unsafe_mul(k, n), j)]))
            index += 1
            digest = unsafe_add(digest, unsafe_mul(index, cell))
    self.results[key] = unsafe_add(self.results[key], digest)


@external
def run_add(n: uint256, seed: uint256, key: uint256):
    assert n <= MAX_N, "matrix: n exceeds 64"
    cells: uint256 = n * n
    # Two cursors on the stream, n*n values apart: A[i] and B[i] side by side.
    x_a: uint256 = seed
    x_b: uint256 = lcg.jump(seed, cells)
    digest: uint256 = 0
    for i: uint256 in range(cells, bound=MAX_CELLS):
        x_a = unsafe_add(unsafe_mul(x_a, LCG_MUL), LCG_INC) & LCG_MASK
        x_b = unsafe_add(unsafe_mul(x_b, LCG_MUL), LCG_INC) & LCG_MASK
        cell: uint256 = (x_a >> 33) % MODULUS + (x_b >> 33) % MODULUS
        digest = unsafe_add(digest, unsafe_mul(i + 1, cell))
    self.results[key] = unsafe_add(self.results[key], digest)


@internal
@pure
def _entries(n: uint256, seed: uint256) -> DynArray[uint256, 2 * MAX_CELLS]:
    """
    @notice A then B, each row-major: the first 2*n*n values of the stream, mod 100.
    """
    assert n <= MAX_N, "matrix: n exceeds 64"
    entries: DynArray[uint256, 2 * MAX_CELLS] = []
    x: uint256 = seed
    for _: uint256 in range(2 * n * n, bound=2 * MAX_CELLS):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        entries.append((x >> 33) % MODULUS)
    return entries


# -- the parallel versions: parts of C on threads of the fork-join precompile --


@external
@view
def multiply_part(n: uint256, seed: uint256, first_row: uint256, rows: uint256) -> uint256:
    """
    @notice run_multiply's digest over rows first_row .. first_row + rows - 1 of C.
    """
    assert n <= MAX_N and first_row + rows <= n, "matrix: part out of range"
    cells: uint256 = n * n
    x: uint256 = lcg.jump(seed, cells)
    b: DynArray[uint256, MAX_CELLS] = []
    for _: uint256 in range(cells, bound=MAX_CELLS):
        x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
        b.append((x >> 33) % MODULUS)
    x = lcg.jump(seed, first_row * n)
    digest: uint256 = 0
    index: uint256 = first_row * n
    row: DynArray[uint256, MAX_N] = []
    for i: uint256 in range(rows, bound=MAX_N):
        row = []
        for k: uint256 in range(n, bound=MAX_N):
            x = unsafe_add(unsafe_mul(x, LCG_MUL), LCG_INC) & LCG_MASK
            row.append((x >> 33) % MODULUS)
        for j: uint256 in range(n, bound=MAX_N):
            cell: uint256 = 0
            for k: uint256 in range(n, bound=MAX_N):
                cell = unsafe_add(cell, unsafe_mul(row[k], b[unsafe_add(unsafe_mul(k, n), j)]))
            index += 1
            digest = unsafe_add(digest, unsafe_mul(index, cell))
    return digest


@external
@view
def add_part(n: uint256, seed: uint256, first: uint256, size: uint256) -> uint256:
    """
    @notice run_add's digest over cells first .. first + size - 1 of C.
    """
    assert n <= MAX_N and first + size <= n * n, "matrix: part out of range"
    x_a: uint256 = lcg.jump(seed, first)
    x_b: uint256 = lcg.jump(seed, n * n + first)
    digest: uint256 = 0
    for i: uint256 in range(first, first + size, bound=MAX_CELLS):
        x_a = unsafe_add(unsafe_mul(x_a, LCG_MUL), LCG_INC) & LCG_MASK
        x_b = unsafe_add(unsafe_mul(x_b, LCG_MUL), LCG_INC) & LCG_MASK
        cell: uint256 = (x_a >> 33) % MODULUS + (x_b >> 33) % MODULUS
        digest = unsafe_add(digest, unsafe_mul(i + 1, cell))
    return digest


@external
def run_multiply_parallel(n: uint256, seed: uint256, key: uint256, threads: uint256):
    """
    @notice What `run_multiply` does, with C's rows split over `threads` threads.
    """
    assert threads >= 1 and threads <= forkjoin.MAX_THREADS, "matrix: 1 to 16 threads"
    datas: DynArray[Bytes[forkjoin.MAX_DATA], forkjoin.MAX_THREADS] = []
    for t: uint256 in range(threads, bound=forkjoin.MAX_THREADS):
        first: uint256 = n * t // threads
        datas.append(
            abi_encode(
                n, seed, first, n * (t + 1) // threads - first,
                method_id=method_id("multiply_part(uint256,uint256,uint256,uint256)"),
            )
        )
    self.results[key] = unsafe_add(self.results[key], forkjoin.sum_of(datas))


@external
def run_add_parallel(n: uint256, seed: uint256, key: uint256, threads: uint256):
    """
    @notice What `run_add` does, with C's cells split over `threads` threads.
    """
    assert threads >= 1 and threads <= forkjoin.MAX_THREADS, "matrix: 1 to 16 threads"
    cells: uint256 = n * n
    datas: DynArray[Bytes[forkjoin.MAX_DATA], forkjoin.MAX_THREADS] = []
    for t: uint256 in range(threads, bound=forkjoin.MAX_THREADS):
        first: uint256 = cells * t // threads
        datas.append(
            abi_encode(
                n, seed, first, cells * (t + 1) // threads - first,
                method_id=method_id("add_part(uint256,uint256,uint256,uint256)"),
            )
        )
    self.results[key] = unsafe_add(self.results[key], forkjoin.sum_of(datas))
