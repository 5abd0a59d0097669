# pragma version 0.4.3
"""
@title Fork-join over this contract's own functions
@notice Runs calls to this contract as sub-calls of the fork-join precompile
        (0x...0100: the calls' results are defined as running them one after
        another in thread-id order; validators may run them on idle cores) and adds
        up the uint256 each returns. A failed sub-call reverts the whole call.
"""

PARALLEL: constant(address) = 0x0000000000000000000000000000000000000100
MAX_THREADS: constant(uint256) = 16
MAX_DATA: constant(uint256) = 260


struct Call:
    target: address
    data: Bytes[MAX_DATA]
    tid: uint256
    after: uint256


struct Result:
    success: bool
    output: Bytes[32]


@internal
def sum_of(datas: DynArray[Bytes[MAX_DATA], MAX_THREADS]) -> uint256:
    calls: DynArray[Call, MAX_THREADS] = []
    for data: Bytes[MAX_DATA] in datas:
        calls.append(Call(target=self, data=data, tid=len(calls) + 1, after=0))
    out: Bytes[2624] = raw_call(PARALLEL, abi_encode(calls), max_outsize=2624)
    results: DynArray[Result, MAX_THREADS] = abi_decode(out, DynArray[Result, MAX_THREADS])
    total: uint256 = 0
    for result: Result in results:
        assert result.success, "forkjoin: a thread failed"
        total = unsafe_add(total, convert(result.output, uint256))
    return total
