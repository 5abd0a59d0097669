"""What an attacker does to a signature it did not make: the malleated twin."""

from common.chain.signatures import SECP256K1_N


def high_s_twin(signature: bytes) -> bytes:
    """``(r, n - s, v ^ 1)``: as valid to plain ECDSA as ``signature``, for the same
    message and key, but a different byte string."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v ^ 1])
