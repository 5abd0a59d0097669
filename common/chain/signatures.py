"""secp256k1 signatures as the network accepts them: 65 bytes ``r || s || v``,
recoverable, and canonical (invariant 6, docs/architecture.md).

ECDSA is malleable: if ``(r, s, v)`` is valid for a message, so is
``(r, n - s, v ^ 1)``, and it recovers the same address. A block hash covers the
seal, so without a rule anyone holding one sealed block could make a second block
with a different hash and the same signer. Ethereum closed that for transactions in
EIP-2 (``s <= n / 2``); here the same rule holds for block seals and verdicts, so
every signed message has exactly one valid signature and only the key holder can
make another.
"""

from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError

SIGNATURE = 65
"""Bytes of a signature: r (32), s (32), v (1, 0 or 1)."""
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of secp256k1's group."""
HALF_N = SECP256K1_N // 2
"""The largest ``s`` a canonical signature may have (EIP-2)."""


def sign(digest: bytes, key: bytes) -> bytes:
    """The canonical 65-byte signature of ``digest`` by ``key`` (low-s whatever the
    signing backend returns)."""
    signature = keys.PrivateKey(key).sign_msg_hash(digest)
    v, r, s = signature.vrs
    if s > HALF_N:
        v, s = v ^ 1, SECP256K1_N - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def problem(signature: bytes) -> str:
    """Why ``signature`` is not one the network accepts, ``""`` when it is."""
    if len(signature) != SIGNATURE:
        return f"a signature is {SIGNATURE} bytes, not {len(signature)}"
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if signature[64] not in (0, 1):
        return "v must be 0 or 1"
    if not 0 < r < SECP256K1_N:
        return "r out of range"
    if not 0 < s <= HALF_N:
        return "s above n/2 (a non-canonical, high-s signature; EIP-2)"
    return ""


def recover(digest: bytes, signature: bytes) -> bytes | None:
    """The address whose key made ``signature`` over ``digest``; ``None`` when the
    signature is invalid or not canonical."""
    if problem(signature):
        return None
    try:
        public = keys.Signature(signature).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError):
        return None
    return bytes(public.to_canonical_address())
