"""The validator node: block intake, in-order parallel validation, catch-up, verdicts.

    POST /blocks ──┐
    pavm:blocks ───┼─▶ queue ─▶ one thread: decode, miner's signature? ─▶ gap? catch up
    head poll ─────┘             over GET /blocks from the miner ─▶ Validator.validate
                                 ─▶ verdict to the miner (HTTP) and on pavm:verdicts

Blocks not signed by the configured miner are dropped and counted, whatever
transport brought them (invariant 6, docs/architecture.md); a gap in block numbers (a dropped
pub/sub message, a restart) is filled over HTTP before anything newer is validated
(invariant 7, docs/architecture.md). The store commits each accepted block, so a restart
resumes at the head.
"""

import contextlib
import json
import logging
import queue
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import httpx

from common import codec
from common.block import Block
from common.block_times import BlockTimes, Via
from common.errors import InvalidBlock, PavmError
from common.genesis import GenesisSpec
from common.kv import LmdbDB
from common.membership import HEARTBEAT, NAME, Registration
from common.rpc.client import NodeError, RpcClient
from common.store import ChainStore
from common.transport import MAX_REASON, Verdict, redis_channels
from common.types import Strategy
from validator.validate import BODY_MISMATCH, ValidationReport, Validator

log = logging.getLogger("pavm.validator")
CATCH_UP_BATCH = 256
BAD_BLOCKS = 16
"""Rejected blocks kept for debug_getBadBlocks."""
INBOX = 64
GENESIS_ATTEMPTS = 8
"""Tries (backing off up to 2 s) to reach the miner and compare block 0 at start."""
"""Pushed blocks waiting for validation at most."""


class _Signal(Enum):
    """What the node's own threads put in the inbox beside blocks: never bytes, so no
    message from outside can stand for one."""

    CATCH_UP = "catch up"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class _Arrival:
    """A block's bytes as they came, how, and when (epoch seconds)."""

    data: bytes
    via: Via
    at: float


@dataclass
class ValidatorSettings:
    name: str
    data_dir: Path
    genesis: GenesisSpec
    miner_address: bytes
    miner_url: str
    workers: int = 2
    strategy: Strategy = "groups"
    """How blocks are executed (``validator/strategies.py``)."""
    transport: str = "http"
    redis_url: str | None = None
    redis_password: str | None = None
    public_url: str | None = None
    """Where the miner should push blocks (registered at start when given)."""
    poll_interval: float = 2.0
    key: bytes = b""
    """This validator's own key: it signs every verdict."""
    join_token: bytes = b""
    """The network's membership secret, proved (never sent) when registering."""


class ValidatorNode:
    """Everything the validator service does, independent of HTTP."""

    def __init__(self, settings: ValidatorSettings) -> None:
        if not NAME.fullmatch(settings.name):
            raise ValueError(
                f"validator name {settings.name[:70]!r}: use 1-64 letters, digits, . _ -"
            )
        self.settings = settings
        self.db = LmdbDB(settings.data_dir / "chain")
        self.store = ChainStore(self.db)
        self.miner = RpcClient(settings.miner_url, timeout=10.0)
        try:
            self.store.open_chain(settings.genesis.alloc, settings.genesis.config)
            self._check_genesis()
        except Exception:
            self.miner.close()
            self.db.close()
            raise
        self.lock = threading.RLock()
        self.validator = Validator(
            self.store.head_state(),
            settings.miner_address,
            settings.workers,
            store=self.store,
            strategy=settings.strategy,
        )
        self.http = httpx.Client(base_url=settings.miner_url.rstrip("/"), timeout=10.0)
        """The miner's REST side: registration, catch-up, verdicts."""
        self.redis_blocks, self.redis_verdicts = redis_channels(
            settings.transport, settings.redis_url, settings.redis_password
        )
        self._inbox: queue.Queue[_Arrival | _Signal] = queue.Queue(INBOX)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.known_head = self.head
        self.miner_reachable = False
        self.validated = 0
        self.transactions = 0
        self.rejected: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.arrivals: Counter[str] = Counter()
        """Blocks validated, by how they came (push, redis, fetch)."""
        self.times = BlockTimes()
        """When the recent blocks arrived and were judged (``pavm_getBlockTimes``)."""
        self._unknown_to_miner = threading.Event()
        """Set when the miner refused a verdict as not from a member: register again."""
        self._unreported: list[bytes] = []
        """Verdicts the miner has not acknowledged yet (touched by the work thread only)."""
        self.bad_blocks: deque[Block] = deque(maxlen=BAD_BLOCKS)
        """The latest blocks rejected as invalid (debug_getBadBlocks)."""
        self.reports: list[ValidationReport] = []
        """The most recent validation reports (for metrics), newest last."""

    def _check_genesis(self) -> None:
        """Refuse to join a miner whose block 0 is not this validator's: another genesis
        file or gas schedule would reject every block. A miner not reachable yet is
        not a refusal (its blocks will not link to this genesis either)."""
        ours = "0x" + self.store.block(0).header.hash.hex()  # type: ignore[union-attr]
        for attempt in range(GENESIS_ATTEMPTS):
            try:
                theirs = self.miner.call("eth_getBlockByNumber", ["0x0", False])["hash"]
            except (httpx.HTTPError, NodeError, KeyError, TypeError):
                time.sleep(min(2.0, 0.25 * 2**attempt))
                continue
            if theirs != ours:
                raise PavmError(
                    f"the miner at {self.settings.miner_url} has block 0 {theirs}, this "
                    f"validator's genesis file and gas schedule make {ours}: give every "
                    "node the same files"
                )
            return
        log.warning("miner not reachable to compare genesis blocks; going on")

    @property
    def head(self) -> int:
        return self.validator.state.head.number

    @property
    def synced(self) -> bool:
        return self.miner_reachable and self.head >= self.known_head

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._work, "validate"), (self._poll, "head-poll")):
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self._threads.append(thread)
        if self.redis_blocks is not None:
            self.redis_blocks.start(lambda data: self.receive(data, "redis"), self.request_catch_up)

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):  # a full inbox: the thread sees _stop next
            self._inbox.put_nowait(_Signal.STOP)
        for thread in self._threads:
            thread.join(10)
        for channel in (self.redis_blocks, self.redis_verdicts):
            if channel is not None:
                channel.close()
        self.validator.close()
        self.http.close()
        self.miner.close()
        self.db.close()

    # -- intake ----------------------------------------------------------------------------

    def receive(self, data: bytes, via: Via = "push") -> None:
        """A block arrived (HTTP push or pub/sub); validation happens in order, elsewhere.
        With ``INBOX`` blocks already waiting it is dropped (and counted): catch-up
        fetches whatever a dropped push carried."""
        try:
            self._inbox.put_nowait(_Arrival(data, via, time.time()))
        except queue.Full:
            self.dropped["inbox_full"] += 1

    def request_catch_up(self) -> None:
        """Ask the worker thread to compare with the miner's head (e.g. after resubscribing)."""
        with contextlib.suppress(queue.Full):  # a full inbox gets to the head anyway
            self._inbox.put_nowait(_Signal.CATCH_UP)

    def _poll(self) -> None:
        """Register with the miner every :data:`HEARTBEAT` seconds (so it keeps pushing
        here), at once again after it was unreachable (it may have restarted from
        scratch) or refused a verdict, and ask for a comparison with its head every
        poll interval."""
        registered_at: float | None = None
        reachable = False
        while not self._stop.is_set():
            if (reachable and not self.miner_reachable) or self._unknown_to_miner.is_set():
                registered_at = None
            reachable = self.miner_reachable
            if registered_at is None or time.monotonic() - registered_at >= HEARTBEAT:
                self._unknown_to_miner.clear()
                registered_at = time.monotonic() if self._register() else None
            self.request_catch_up()
            self._stop.wait(self.settings.poll_interval)

    def _register(self) -> bool:
        settings = self.settings
        registration = Registration.make(
            settings.name, settings.key, settings.public_url or "", settings.join_token
        )
        try:
            self.http.post("/validators", json=registration.to_json()).raise_for_status()
            return True
        except httpx.HTTPStatusError as exc:
            log.error("the miner refused registration: %s", exc.response.text[:300])
            return False
        except httpx.HTTPError as exc:
            log.info("miner not reachable for registration yet: %s", exc)
            return False

    def _miner_head(self) -> int | None:
        try:
            head = int(self.miner.call("eth_blockNumber"), 16)
        except (httpx.HTTPError, NodeError, ValueError, TypeError):
            self.miner_reachable = False
            return None
        self.miner_reachable = True
        self.known_head = max(self.known_head, head)
        return head

    # -- validation ------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            data = self._inbox.get()
            if data is _Signal.STOP:
                return
            try:
                if isinstance(data, _Arrival):
                    self._handle(data)
                else:
                    head = self._miner_head()
                    if head is not None:
                        self._retry_unreported()
                    if head is not None and head > self.head:
                        self._catch_up(head)
            except Exception:
                log.exception("block handling failed")

    def _handle(self, arrival: _Arrival) -> None:
        """Cheap checks first: the header alone, and its signature, before the body is
        decoded; a block at or below the head is not decoded at all."""
        data = arrival.data
        try:
            header = Block.header_of(data)
        except ValueError as exc:
            self.dropped["malformed"] += 1
            log.warning("dropped a malformed block: %s", exc)
            return
        if header.signer() != self.settings.miner_address:
            self.dropped["signature"] += 1
            log.warning("dropped block %d: not signed by the miner", header.number)
            return
        number = header.number
        self.known_head = max(self.known_head, number)
        if number <= self.head:
            return
        try:
            block = Block.decode(data)
        except ValueError as exc:
            self.dropped["malformed"] += 1
            log.warning("dropped a malformed block %d: %s", number, exc)
            return
        if number > self.head + 1:
            self._catch_up(number - 1)
            if number != self.head + 1:
                return
        self._validate(block, arrival.via, arrival.at)

    def _catch_up(self, target: int) -> None:
        """Fetch and validate, in order, every block up to ``target`` from the miner."""
        while self.head < target and not self._stop.is_set():
            start, end = self.head + 1, min(target, self.head + CATCH_UP_BATCH)
            try:
                answer = self.http.get("/blocks", params={"start": start, "end": end})
                answer.raise_for_status()
                encoded = codec.decode(answer.content)
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("catch-up from the miner failed: %s", exc)
                return
            if not encoded:
                return
            log.info("catching up blocks %d..%d", start, start + len(encoded) - 1)
            fetched = time.time()
            for data in encoded:
                block = Block.decode(data)
                if block.header.signer() != self.settings.miner_address:
                    self.dropped["signature"] += 1
                    return
                if not self._validate(block, "fetch", fetched):
                    return

    def _validate(self, block: Block, via: Via, arrived: float) -> bool:
        """Validate the block after the head and report the verdict; its arrival and
        verdict times go to :attr:`times` (a block dropped unjudged is forgotten there)."""
        header = block.header
        self.times.record(header.number, via, arrived)
        started = time.perf_counter()
        try:
            with self.lock:
                report = self.validator.validate(block)
        except InvalidBlock as exc:
            if exc.reason == "bad_signature" or exc.reason in BODY_MISMATCH:
                self.times.forget(header.number)
            if exc.reason == "bad_signature":
                self.dropped["signature"] += 1
                return False
            if exc.reason in BODY_MISMATCH:
                self.dropped["body_mismatch"] += 1
                log.warning("dropped block %d: %s", header.number, exc)
                return False
            self.times.judged(header.number, False, time.time())
            self.rejected[exc.reason] += 1
            self.bad_blocks.append(block)
            log.warning("rejected block %d: %s", header.number, exc)
            self._report(
                Verdict(
                    self.settings.name,
                    header.number,
                    "0x" + block.hash.hex(),
                    False,
                    str(exc)[:MAX_REASON],
                    (time.perf_counter() - started) * 1000,
                )
            )
            return False
        self.times.judged(header.number, True, time.time())
        self.arrivals[via] += 1
        self.validated += 1
        self.transactions += report.transactions
        self.reports = [*self.reports[-99:], report]
        self._report(
            Verdict(
                self.settings.name,
                header.number,
                "0x" + block.hash.hex(),
                True,
                "",
                report.total_s * 1000,
            )
        )
        return True

    def _report(self, verdict: Verdict) -> None:
        """Always to the miner over HTTP (pub/sub may drop it), and on Redis when enabled.

        A verdict the miner could not take (it is down or restarting) is kept and sent
        again on the next head poll, so every block ends up with this validator's verdict.
        """
        body = json.dumps(verdict.signed_by(self.settings.key).to_json()).encode()
        if not self._post_verdict(body):
            log.warning("could not report verdict on block %d; will retry", verdict.number)
            self._unreported.append(body)
        if self.redis_verdicts is not None:
            self.redis_verdicts.publish(body)

    def _post_verdict(self, body: bytes) -> bool:
        try:
            answer = self.http.post(
                "/verdicts", content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError:
            return False
        if answer.status_code == 403:
            # Not (yet) a member there: a verdict sent before the registration landed,
            # or a miner that lost its members. Register again, then send it again.
            self._unknown_to_miner.set()
            return False
        return answer.status_code < 500

    def _retry_unreported(self) -> None:
        while self._unreported and self._post_verdict(self._unreported[0]):
            self._unreported.pop(0)
