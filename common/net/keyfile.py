"""A node's secrets (its signing key, the network's join token, the Redis password)
and the address file
through which validators learn the miner's address.

Every network has its own miner key (invariant 6, docs/architecture.md): the miner
makes one at its first start, in a file only its user may read, and never takes a key
on the command line (where ``ps`` would show it). Validators are given the miner's
*address*, which is public: the miner writes it to an address file the launcher (or
a shared read-only volume in compose) hands to them.
"""

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from eth_keys import keys
from eth_utils import ValidationError

from common.chain.accounts import address_of
from common.errors import PavmError


def load_or_create_key(path: Path) -> bytes:
    """The secp256k1 key in ``path`` (hex), made there with mode 0600 if the file does
    not exist; refused if others may read the file or it holds no valid key, rather
    than signing with a key that may have leaked or running with one that is not there.
    """
    return _load_or_create(path, _new_key, lambda key: keys.PrivateKey(key), "secp256k1 key")


def load_or_create_token(path: Path, what: str = "join token") -> bytes:
    """The shared secret in ``path`` (the network's join token, or the Redis
    password), made there (32 random bytes, mode 0600) if the file does not exist; the
    node or launcher that owns it calls this, the others :func:`read_token`."""
    return _load_or_create(path, lambda: secrets.token_bytes(32), _check_token, what)


def read_token(path: Path, timeout: float = 60.0, what: str = "join token") -> bytes:
    """The secret in ``path``, waiting up to ``timeout`` s for its owner to make it."""
    _wait_for(path, timeout, f"{what} file")
    return _read_secret(path, _check_token, what)


REDIS_WAIT = 300.0
"""Seconds a node waits for Redis to make its password file."""


def read_redis_password(path: Path) -> str:
    """The Redis password in ``path``: the hex text of a secret made by
    :func:`load_or_create_token` (what the Redis server was configured with)."""
    # Under Swarm nothing starts Redis first: wait as long as a slow host may need.
    return read_token(path, timeout=REDIS_WAIT, what="Redis password").hex()


def _check_token(token: bytes) -> None:
    if len(token) < 16:
        raise ValueError("a shared secret has at least 16 bytes")


def _load_or_create(
    path: Path, make: Callable[[], bytes], check: Callable[[bytes], object], what: str
) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = make()
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another start made it first: use that one
        else:
            with os.fdopen(handle, "w") as out:
                out.write(secret.hex() + "\n")
            return secret
    return _read_secret(path, check, what)


def _read_secret(path: Path, check: Callable[[bytes], object], what: str) -> bytes:
    if path.stat().st_mode & 0o077:
        raise PavmError(f"{what} file {path} may be read by others: chmod 600 it")
    try:
        secret = bytes.fromhex(path.read_text().strip().removeprefix("0x"))
        check(secret)
    except (ValueError, ValidationError) as exc:
        raise PavmError(f"{what} file {path} holds no {what} ({exc})") from None
    return secret


def _wait_for(path: Path, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise PavmError(f"no {what} at {path} after {timeout:.0f} s")
        time.sleep(0.2)


def _new_key() -> bytes:
    while True:
        candidate = secrets.token_bytes(32)
        try:
            keys.PrivateKey(candidate)
        except ValidationError:  # zero or above the curve order: draw again
            continue
        return candidate


def write_address(path: Path, key: bytes) -> None:
    """Write the key's address to ``path`` (replacing it whole, never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("0x" + address_of(key).hex() + "\n")
    partial.replace(path)


def read_address(path: Path, timeout: float = 60.0) -> bytes:
    """The 20-byte address in ``path``, waiting up to ``timeout`` s for it to appear
    (a validator may start while the miner is still writing it)."""
    _wait_for(path, timeout, "miner address file")
    return parse_address(path.read_text().strip(), str(path))


def parse_address(text: str, where: str = "address") -> bytes:
    """A 0x-prefixed (or bare) 20-byte hex address; ``PavmError`` naming ``where``."""
    try:
        address = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        address = b""
    if len(address) != 20:
        raise PavmError(f"{where}: expected a 20-byte hex address, got {text[:60]!r}")
    return address
