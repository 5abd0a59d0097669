# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Scripted sub-call target for the fork-join tests
@notice run(steps, nested) does what its steps say, so that generated tests can
        make sub-calls that read and write storage and transient storage, log,
        revert, burn gas, send and read ether, and fork-join again on this
        contract, in any mix.
"""

PARALLEL: constant(address) = 0x0000000000000000000000000000000000000100
MAX_STEPS: constant(uint256) = 12
MAX_NESTED: constant(uint256) = 3


struct Call:
    target: address
    data: Bytes[4932]
    tid: uint256
    after: uint256


struct Result:
    success: bool
    output: Bytes[32]


event Stepped:
    acc: uint256
    arg: uint256


store: public(HashMap[uint256, uint256])
scratch: transient(HashMap[uint256, uint256])


@deploy
@payable
def __init__():
    pass


@external
@payable
def __default__():
    pass


@external
def run(
    steps: DynArray[uint256[3], MAX_STEPS],
    nested: DynArray[DynArray[uint256[3], MAX_STEPS], MAX_NESTED],
) -> uint256:
    acc: uint256 = 0
    for step: uint256[3] in steps:
        op: uint256 = step[0]
        a: uint256 = step[1]
        b: uint256 = step[2]
        if op == 1:
            acc = unsafe_add(unsafe_mul(acc, 31), self.store[a])
        elif op == 2:
            self.store[a] = b ^ acc
        elif op == 3:
            acc = unsafe_add(unsafe_mul(acc, 31), self.scratch[a])
        elif op == 4:
            self.scratch[a] = b ^ acc
        elif op == 5:
            log Stepped(acc=acc, arg=a)
        elif op == 6:
            raise "scripted revert"
        elif op == 7:
            for i: uint256 in range(b, bound=5000):
                acc = convert(keccak256(convert(acc, bytes32)), uint256)
        elif op == 8:
            send(self._wallet(a), b)
        elif op == 9:
            acc = unsafe_add(acc, self._wallet(a).balance)
        elif op == 10:
            acc = acc ^ self._fork(nested, b)
    return acc


@internal
@pure
def _wallet(a: uint256) -> address:
    return convert(convert(a + 4096, uint160), address)


@internal
def _fork(
    programs: DynArray[DynArray[uint256[3], MAX_STEPS], MAX_NESTED], after: uint256
) -> uint256:
    """Fork-join run(program) on this contract for each program; thread i + 1 runs
    after thread i when ``after`` is odd. Folds every result into one number."""
    calls: DynArray[Call, MAX_NESTED] = []
    tid: uint256 = 0
    for program: DynArray[uint256[3], MAX_STEPS] in programs:
        tid += 1
        data: Bytes[4932] = abi_encode(
            program,
            empty(DynArray[DynArray[uint256[3], MAX_STEPS], MAX_NESTED]),
            method_id=method_id("run(uint256[3][],uint256[3][][])"),
        )
        calls.append(Call(target=self, data=data, tid=tid, after=tid - 1 if after % 2 == 1 else 0))
    ok: bool = False
    out: Bytes[640] = b""
    ok, out = raw_call(PARALLEL, abi_encode(calls), max_outsize=640, revert_on_failure=False)
    if not ok:
        return 1
    folded: uint256 = 2
    results: DynArray[Result, MAX_NESTED] = abi_decode(out, DynArray[Result, MAX_NESTED])
    for result: Result in results:
        folded = unsafe_add(unsafe_mul(folded, 7), convert(result.success, uint256))
        if len(result.output) == 32:
            folded = unsafe_add(folded, convert(result.output, uint256))
    return folded
