"""How blocks and verdicts travel: HTTP fan-out and Redis pub/sub.

Blocks go out in their wire encoding (``POST /blocks`` on each validator, or the
``pavm:blocks`` channel); verdicts come back as JSON (``POST /verdicts`` on the
miner, or the ``pavm:verdicts`` channel). Pub/sub may drop messages, which is why a
validator that sees a gap in block numbers catches up over HTTP.
"""

import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, get_args

import httpx
import redis

from common.net.membership import NAME, recover_signer, sign_hash, verdict_hash

BLOCKS_CHANNEL = "pavm:blocks"
VERDICTS_CHANNEL = "pavm:verdicts"
Transport = Literal["http", "redis", "both"]
"""How a node sends (miner) or takes in (validator) blocks."""
TRANSPORTS: tuple[str, ...] = get_args(Transport)
log = logging.getLogger("pavm.transport")
MAX_REASON = 1024
"""Longest rejection reason a verdict may carry (validators cut theirs to fit)."""
_SIGNATURE = re.compile(r"0x[0-9a-f]{130}")
_HASH = re.compile(r"0x[0-9a-f]{64}")


@dataclass(frozen=True)
class Verdict:
    """One validator's judgement of one block."""

    validator: str
    number: int
    block_hash: str
    agree: bool
    reason: str = ""
    """Rejection reason (``rwset_mismatch: transaction 3: ...``), empty when agreeing."""
    validation_ms: float = 0.0
    signature: str = ""
    """0x-hex secp256k1 signature by the validator's key of :meth:`signing_hash`."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def signing_hash(self) -> bytes:
        return verdict_hash(
            self.validator,
            self.number,
            self.block_hash,
            self.agree,
            self.reason,
            self.validation_ms,
        )

    def signed_by(self, key: bytes) -> "Verdict":
        return replace(self, signature=sign_hash(self.signing_hash(), key))

    def signer(self) -> bytes | None:
        """The address whose key signed this verdict, ``None`` when none did."""
        return recover_signer(self.signing_hash(), self.signature)

    @classmethod
    def from_json(cls, data: Any) -> "Verdict":
        """Parse a verdict received from outside; ``ValueError`` naming the first field
        that is missing or of the wrong type or range (nothing is coerced: ``"false"``
        is not a boolean)."""
        if not isinstance(data, dict):
            raise ValueError("malformed verdict: a verdict is a JSON object")
        try:
            verdict = cls(
                validator=data["validator"],
                number=data["number"],
                block_hash=data["block_hash"],
                agree=data["agree"],
                reason=data.get("reason", ""),
                validation_ms=data.get("validation_ms", 0.0),
                signature=data.get("signature", ""),
            )
        except KeyError as exc:
            raise ValueError(f"malformed verdict: missing {exc}") from None
        verdict.check()
        return verdict

    def check(self) -> None:
        """Raise ``ValueError`` naming the first field out of type or range."""
        problem = self._problem()
        if problem:
            raise ValueError(f"malformed verdict: {problem}")

    def _problem(self) -> str:
        if not isinstance(self.validator, str) or not NAME.fullmatch(self.validator):
            return "validator must be 1-64 characters of letters, digits, '.', '_' or '-'"
        if type(self.number) is not int or not 0 <= self.number < 2**63:
            return "number must be an integer in [0, 2^63)"
        if not isinstance(self.block_hash, str) or not _HASH.fullmatch(self.block_hash):
            return "block_hash must be 0x and 64 hex digits"
        if type(self.agree) is not bool:
            return "agree must be true or false"
        if not isinstance(self.reason, str) or len(self.reason) > MAX_REASON:
            return f"reason must be a string of at most {MAX_REASON} characters"
        ms = self.validation_ms
        # A float only: 5 and 5.0 would sign alike, two forms of one verdict.
        if type(ms) is not float or not math.isfinite(ms) or ms < 0:
            return "validation_ms must be a finite number >= 0 with a fraction (5.0, not 5)"
        if not isinstance(self.signature, str) or not _SIGNATURE.fullmatch(self.signature):
            return "signature must be 0x and 130 hex digits (verdicts are signed)"
        return ""


class HttpFanout:
    """POSTs each payload to every peer; a slow or dead peer delays only itself.

    Each peer has its own thread and a queue of at most ``depth`` payloads; when a peer
    falls behind, its oldest payloads are dropped (and counted in ``dropped``): a
    validator that misses a block fills the gap by catch-up. Failures are logged,
    never raised.
    """

    def __init__(self, timeout: float = 5.0, depth: int = 4) -> None:
        self.client = httpx.Client(timeout=timeout)
        self.depth = depth
        self.dropped = 0
        self._peers: dict[str, _PeerQueue] = {}
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def send(self, urls: list[str], path: str, body: bytes, content_type: str) -> None:
        for url in urls:
            target = url.rstrip("/") + path
            with self._lock:
                peer = self._peers.get(target)
                if peer is None:
                    peer = self._peers[target] = _PeerQueue(self, target)
            if peer.put((body, content_type)):
                self.dropped += 1

    def post(self, url: str, body: bytes, content_type: str) -> None:
        try:
            self.client.post(url, content=body, headers={"content-type": content_type})
        except httpx.HTTPError as exc:
            log.warning("could not reach %s: %s", url, exc)

    def close(self) -> None:
        self.closed.set()
        with self._lock:
            peers = list(self._peers.values())
        for peer in peers:
            peer.wake()
        self.client.close()


class _PeerQueue:
    """One peer's payloads, newest kept, posted in order by the peer's own thread."""

    def __init__(self, fanout: HttpFanout, url: str) -> None:
        self.fanout = fanout
        self.url = url
        self._waiting: deque[tuple[bytes, str]] = deque()
        self._ready = threading.Condition()
        threading.Thread(target=self._run, daemon=True, name=f"push {url}").start()

    def put(self, item: tuple[bytes, str]) -> bool:
        """Queue ``item``; True when that dropped the oldest one waiting."""
        with self._ready:
            dropped = len(self._waiting) >= self.fanout.depth
            if dropped:
                self._waiting.popleft()
            self._waiting.append(item)
            self._ready.notify()
        return dropped

    def wake(self) -> None:
        with self._ready:
            self._ready.notify()

    def _run(self) -> None:
        while not self.fanout.closed.is_set():
            with self._ready:
                while not self._waiting and not self.fanout.closed.is_set():
                    self._ready.wait()
                if not self._waiting:
                    return
                body, content_type = self._waiting.popleft()
            self.fanout.post(self.url, body, content_type)


class RedisChannel:
    """Publishes to and listens on one Redis channel, reconnecting after outages."""

    def __init__(self, url: str, channel: str, password: str | None = None) -> None:
        self.url = url
        self.channel = channel
        self._client = redis.Redis.from_url(
            url, password=password, socket_timeout=5, socket_connect_timeout=5
        )
        self._stop = threading.Event()

    def publish(self, payload: bytes) -> bool:
        try:
            self._client.publish(self.channel, payload)
            return True
        except redis.RedisError as exc:
            log.warning("redis publish on %s failed: %s", self.channel, exc)
            return False

    def listen(self, on_message: Callable[[bytes], None], on_connect: Callable[[], None]) -> None:
        """Run in a thread: deliver each message; after every (re)subscription call
        ``on_connect`` so the caller can fill what it missed meanwhile."""
        while not self._stop.is_set():
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(self.channel)
                on_connect()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._deliver(on_message, bytes(message["data"]))
            except redis.RedisError as exc:
                log.warning("redis subscription to %s lost: %s; retrying", self.channel, exc)
                time.sleep(1.0)

    def _deliver(self, on_message: Callable[[bytes], None], payload: bytes) -> None:
        """Hand one message over; whatever a stranger's message makes the handler
        raise is logged, and the listener goes on with the next one."""
        try:
            on_message(payload)
        except Exception:
            log.exception("message on %s failed (%d bytes); skipped", self.channel, len(payload))

    def start(self, on_message: Callable[[bytes], None], on_connect: Callable[[], None]) -> None:
        threading.Thread(
            target=self.listen, args=(on_message, on_connect), daemon=True, name="redis-listen"
        ).start()

    def close(self) -> None:
        self._stop.set()
        self._client.close()


def redis_channels(
    transport: str, url: str | None, password: str | None = None
) -> tuple[RedisChannel | None, RedisChannel | None]:
    """(blocks, verdicts) channels when ``transport`` uses Redis, else (None, None)."""
    if transport not in ("redis", "both"):
        return None, None
    if not url:
        raise ValueError("the redis transport needs --redis-url")
    return (
        RedisChannel(url, BLOCKS_CHANNEL, password),
        RedisChannel(url, VERDICTS_CHANNEL, password),
    )
