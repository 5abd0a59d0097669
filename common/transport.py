"""How blocks and verdicts travel: HTTP fan-out and Redis pub/sub.

Blocks go out in their wire encoding (``POST /blocks`` on each validator, or the
``pavm:blocks`` channel); verdicts come back as JSON (``POST /verdicts`` on the
miner, or the ``pavm:verdicts`` channel). Pub/sub may drop messages, which is why a
validator that sees a gap in block numbers catches up over HTTP.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import httpx
import redis

BLOCKS_CHANNEL = "pavm:blocks"
VERDICTS_CHANNEL = "pavm:verdicts"
Transport = Literal["http", "redis", "both"]
"""How a node sends (miner) or takes in (validator) blocks."""
TRANSPORTS: tuple[str, ...] = get_args(Transport)
log = logging.getLogger("pavm.transport")


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> "Verdict":
        if not isinstance(data, dict):
            raise ValueError("a verdict is a JSON object")
        try:
            return cls(
                validator=str(data["validator"]),
                number=int(data["number"]),
                block_hash=str(data["block_hash"]),
                agree=bool(data["agree"]),
                reason=str(data.get("reason", "")),
                validation_ms=float(data.get("validation_ms", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed verdict: {exc}") from exc


class HttpFanout:
    """POSTs a payload to every peer concurrently; failures are logged, never raised."""

    def __init__(self, timeout: float = 5.0, workers: int = 8) -> None:
        self.client = httpx.Client(timeout=timeout)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout")

    def send(self, urls: list[str], path: str, body: bytes, content_type: str) -> None:
        for url in urls:
            self.executor.submit(self._post, url.rstrip("/") + path, body, content_type)

    def _post(self, url: str, body: bytes, content_type: str) -> None:
        try:
            self.client.post(url, content=body, headers={"content-type": content_type})
        except httpx.HTTPError as exc:
            log.warning("could not reach %s: %s", url, exc)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()


class RedisChannel:
    """Publishes to and listens on one Redis channel, reconnecting after outages."""

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
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
                        on_message(bytes(message["data"]))
            except redis.RedisError as exc:
                log.warning("redis subscription to %s lost: %s; retrying", self.channel, exc)
                time.sleep(1.0)

    def start(self, on_message: Callable[[bytes], None], on_connect: Callable[[], None]) -> None:
        threading.Thread(
            target=self.listen, args=(on_message, on_connect), daemon=True, name="redis-listen"
        ).start()

    def close(self) -> None:
        self._stop.set()
        self._client.close()


def redis_channels(
    transport: str, url: str | None
) -> tuple[RedisChannel | None, RedisChannel | None]:
    """(blocks, verdicts) channels when ``transport`` uses Redis, else (None, None)."""
    if transport not in ("redis", "both"):
        return None, None
    if not url:
        raise ValueError("the redis transport needs --redis-url")
    return RedisChannel(url, BLOCKS_CHANNEL), RedisChannel(url, VERDICTS_CHANNEL)
