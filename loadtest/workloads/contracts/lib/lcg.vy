# pragma version 0.4.3
"""
@title The workloads' shared generator
@notice x_0 = seed, x_{k+1} = x_k * MUL + INC mod 2**64, value_k = x_{k+1} >> 33.
        `jump` moves the generator k values ahead in O(log k) steps, so that the
        parallel versions' threads can each start at their own part of the stream.
"""

MUL: constant(uint256) = 6364136223846793005
INC: constant(uint256) = 1442695040888963407
MASK: constant(uint256) = 2**64 - 1


@internal
@pure
def jump(x: uint256, k: uint256) -> uint256:
    """
    @notice The generator's state k values after state x: the affine map
            x -> MUL * x + INC composed with itself k times, by squaring.
    """
    mul: uint256 = 1
    inc: uint256 = 0
    step_mul: uint256 = MUL
    step_inc: uint256 = INC
    remaining: uint256 = k
    for _: uint256 in range(64):
        if remaining == 0:
            break
        if remaining & 1 == 1:
            mul = unsafe_mul(mul, step_mul) & MASK
            inc = (unsafe_add(unsafe_mul(inc, step_mul), step_inc)) & MASK
        step_inc = unsafe_mul(step_inc, unsafe_add(step_mul, 1)) & MASK
        step_mul = unsafe_mul(step_mul, step_mul) & MASK
        remaining = remaining >> 1
    return unsafe_add(unsafe_mul(x, mul), inc) & MASK
