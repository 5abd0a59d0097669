"""Who belongs to a network, and how their messages prove it (invariant 6,
docs/architecture.md).

The launcher's join token is the network's membership secret: a validator proves it
knows the token when it registers (an HMAC over what it registers, so the token never
travels), and registers the address of its own key. From then on each verdict it
sends is signed by that key, and the miner keeps a verdict only when its signer is
the member registered under the verdict's name::

    validator key ──▶ Registration(name, address, url, HMAC(token)) ──▶ miner: member
    Verdict(name, number, hash, agree, reason, ms) signed by the key ──▶ miner: kept only
                                                     if signer == member's address

Replaying a registration someone overheard changes nothing: it names the same
address and URL, and without the token no other can be made.
"""

import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from eth_hash.auto import keccak
from eth_keys import keys

from common.chain import signatures
from common.encoding import codec
from common.errors import PavmError

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What a validator may call itself (its name in verdicts and metrics)."""
MAX_MEMBERS = 1024
"""Validators one miner keeps at most (registrations beyond are refused)."""
HEARTBEAT = 60.0
"""Seconds between a validator's registrations: each one tells the miner it is alive."""


class NotAMember(PavmError):
    """Thrown when a registration does not prove the join token, or a verdict is not
    signed by the member registered under its name."""


class AlreadyRecorded(PavmError):
    """Thrown when a verdict arrives again for a block its validator already judged:
    a verdict counts once, however often it is sent."""


def sign_hash(digest: bytes, key: bytes) -> str:
    """0x-hex of the canonical 65-byte secp256k1 signature of ``digest``."""
    return "0x" + signatures.sign(digest, key).hex()


def recover_signer(digest: bytes, signature: str) -> bytes | None:
    """The address that signed ``digest``, or ``None`` for no valid canonical
    signature (a high-s twin is refused: :mod:`common.chain.signatures`)."""
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        return None
    return signatures.recover(digest, raw)


def normal_url(url: str) -> str:
    """``url`` as ``scheme://host:port``; ``ValueError`` for anything else (a path,
    query, fragment or credentials would let a registration aim pushes anywhere)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError("url must be scheme://host:port (http or https, nothing after)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


@dataclass(frozen=True)
class Registration:
    """A validator's request to be a member: its name, its key's address and where it
    takes pushed blocks (``""`` when it only pulls)."""

    name: str
    address: bytes
    url: str
    proof: bytes
    """HMAC-SHA256 under the join token of the fields above."""

    @classmethod
    def make(cls, name: str, key: bytes, url: str, token: bytes) -> "Registration":
        address = bytes(keys.PrivateKey(key).public_key.to_canonical_address())
        url = normal_url(url) if url else ""
        return cls(name, address, url, _proof(token, name, address, url))

    def proves(self, token: bytes) -> bool:
        """Whether the sender knew ``token`` (compared in constant time)."""
        return hmac.compare_digest(self.proof, _proof(token, self.name, self.address, self.url))

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "address": "0x" + self.address.hex(),
            "url": self.url,
            "proof": "0x" + self.proof.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> "Registration":
        """Parse a registration from outside; ``ValueError`` naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a registration is a JSON object")
        name, address, url, proof = (data.get(k) for k in ("name", "address", "url", "proof"))
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValueError("name must be 1-64 characters of letters, digits, '.', '_' or '-'")
        if not isinstance(url, str):
            raise ValueError("url must be a string")
        return cls(
            name,
            _hex(address, 20, "address"),
            normal_url(url) if url else "",
            _hex(proof, 32, "proof"),
        )


def _proof(token: bytes, name: str, address: bytes, url: str) -> bytes:
    message = codec.encode([b"pavm-join", name.encode(), address, url.encode()])
    return hmac.new(token, message, hashlib.sha256).digest()


def _hex(value: Any, size: int, field: str) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except (AttributeError, ValueError):
        raw = b""
    if len(raw) != size:
        raise ValueError(f"{field} must be 0x and {2 * size} hex digits")
    return raw


def verdict_hash(
    name: str, number: int, block_hash: str, agree: bool, reason: str, validation_ms: float
) -> bytes:
    """What a validator signs for a verdict: every field the miner keeps from it, so
    nobody can replay a verdict with any of them changed."""
    return bytes(
        keccak(
            codec.encode(
                [
                    b"pavm-verdict",
                    name.encode(),
                    codec.uint(number),
                    bytes.fromhex(block_hash.removeprefix("0x")),
                    b"\x01" if agree else b"",
                    reason.encode(),
                    struct.pack(">d", validation_ms),
                ]
            )
        )
    )
