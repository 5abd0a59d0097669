"""The validator node: block intake, in-order parallel validation, catch-up, verdicts.

    POST /blocks ──┐
    pavm:blocks ───┼─▶ queue ─▶ one thread: decode, miner's signature? ─▶ gap? catch up
    head poll ─────┘             over GET /blocks from the miner ─▶ Validator.validate
                                 ─▶ verdict to the miner (HTTP) and on pavm:verdicts

Blocks not signed by the configured miner, or sealed with a non-canonical signature,
are dropped and counted, whatever transport brought them (invariant 6,
docs/architecture.md); a gap in block numbers (a dropped pub/sub message, a restart)
is filled over HTTP before anything newer is validated (invariant 7,
docs/architecture.md). The store commits each accepted block, so a restart resumes at
the head.

Two different blocks at one height, both sealed by the miner, are an equivocation:
the node keeps both headers as evidence (``pavm_getEquivocations``) and follows the
chain the miner serves. When that chain is not the one validated here, it rewinds to
the last block both share and validates the miner's blocks from there::

    held N ≠ other N, both sealed ──▶ evidence ──▶ miner's blocks ≤ head over GET /blocks
         ──▶ last common block A ──▶ rewind to A (what is above stays as orphans)
         ──▶ catch up from A + 1
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

from common.chain.block import Block, Header
from common.chain.genesis import GenesisSpec
from common.encoding import codec
from common.errors import InvalidBlock, PavmError
from common.net.block_times import BlockTimes, Via
from common.net.membership import HEARTBEAT, NAME, Registration
from common.net.transport import MAX_REASON, Verdict, redis_channels
from common.rpc.client import NodeError, RpcClient
from common.store.chain import ChainStore, EvidenceFull
from common.store.kv import LmdbDB
from validator.strategies import Strategy
from validator.validate import BODY_MISMATCH, ValidationReport, Validator

log = logging.getLogger("pavm.validator")
CATCH_UP_BATCH = 256
BAD_BLOCKS = 16
"""Rejected blocks kept for debug_getBadBlocks."""
INBOX = 64
"""Pushed blocks waiting for validation at most."""
INBOX_BYTES = 256 * 1024 * 1024
"""Bytes of pushed blocks waiting at most: 64 blocks of the largest size a push may
have would hold 2.5 GiB."""
LOG_EVERY = 10.0
"""Seconds between two log lines about blocks dropped for one cause."""
GENESIS_ATTEMPTS = 8
"""Tries (backing off up to 2 s) to reach the miner and compare block 0 at start."""
MAX_REWIND = 4096
"""Blocks a validator goes back at most to find the chain the miner continues; a fork
deeper than that is logged and left for an operator (start on an empty data dir)."""


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
        self._inbox_bytes = 0
        """Bytes of the blocks waiting in the inbox (at most ``INBOX_BYTES``)."""
        self._inbox_lock = threading.Lock()
        self._logged: dict[str, float] = {}
        """When each cause of dropped blocks was last logged (``time.monotonic()``)."""
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
        self.equivocations = len(self.store.equivocations())
        """Equivocations seen (both headers kept in the store as evidence)."""
        self.rewinds = 0
        """Times this node went back to follow the chain the miner continues."""
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
        with self._inbox_lock:
            if self._inbox_bytes + len(data) > INBOX_BYTES:
                self._drop("inbox_full", "dropped a pushed block: the inbox is full")
                return
            self._inbox_bytes += len(data)
        try:
            self._inbox.put_nowait(_Arrival(data, via, time.time()))
        except queue.Full:
            self._taken(len(data))
            self._drop("inbox_full", "dropped a pushed block: the inbox is full")

    def _taken(self, size: int) -> None:
        """``size`` bytes left the inbox."""
        with self._inbox_lock:
            self._inbox_bytes -= size

    def _drop(self, cause: str, message: str, *args: object) -> None:
        """Count a block dropped unjudged; log it, but at most once per ``LOG_EVERY``
        seconds per cause (a flood of junk must not flood the log too)."""
        self.dropped[cause] += 1
        now = time.monotonic()
        if now - self._logged.get(cause, -LOG_EVERY) >= LOG_EVERY:
            self._logged[cause] = now
            log.warning(message + " (%d dropped so far for %s)", *args, self.dropped[cause], cause)

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
        self.known_head = head
        return head

    # -- validation ------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            data = self._inbox.get()
            if data is _Signal.STOP:
                return
            if isinstance(data, _Arrival):
                self._taken(len(data.data))
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
        """Cheap checks first: the header alone, and its seal, before the body is
        decoded; a block at or below the head is not decoded at all, but one that is
        not the block held at its height is evidence of an equivocation."""
        data = arrival.data
        try:
            header = Block.header_of(data)
        except ValueError as exc:
            self._drop("malformed", "dropped a malformed block: %s", exc)
            return
        if not self._sealed_by_miner(header):
            return
        number = header.number
        if number <= self.head:
            if self.store.number_of(header.hash) != number:
                held = self.store.block(number)
                if held is not None and self._equivocation(held.header, header):
                    head = self._miner_head() if self._follow_miner() else None
                    if head is not None:
                        self._catch_up(head)
            return
        try:
            block = Block.decode(data)
        except ValueError as exc:
            self._drop("malformed", "dropped a malformed block %d: %s", number, exc)
            return
        if number > self.head + 1:
            self._catch_up(number - 1)
            if number != self.head + 1:
                return
        if header.parent_hash != self.validator.state.head.hash and self._follow_miner():
            self._catch_up(number)
            return
        self._validate(block, arrival.via, arrival.at)

    def _sealed_by_miner(self, header: Header) -> bool:
        """Whether the miner sealed ``header`` with a canonical signature; a drop of
        either kind is counted by its cause and logged."""
        problem = header.seal_problem()
        if problem:
            message = "dropped block %d: its seal is not canonical: %s"
            self._drop("non_canonical_seal", message, header.number, problem)
            return False
        if header.signer() != self.settings.miner_address:
            self._drop("signature", "dropped block %d: not signed by the miner", header.number)
            return False
        return True

    def _fetch(self, start: int, end: int) -> list[Block] | None:
        """The miner's blocks ``start..end`` (fewer when it has fewer), each sealed by
        it; ``None`` when it cannot be asked or answers something else."""
        try:
            answer = self.http.get("/blocks", params={"start": start, "end": end})
            answer.raise_for_status()
            blocks = [Block.decode(data) for data in codec.decode(answer.content)]
        except (httpx.HTTPError, ValueError, TypeError) as exc:
            log.warning("fetching blocks %d..%d from the miner failed: %s", start, end, exc)
            return None
        if not all(self._sealed_by_miner(block.header) for block in blocks):
            return None
        return blocks

    def _catch_up(self, target: int) -> None:
        """Fetch and validate, in order, every block up to ``target`` from the miner;
        one that does not extend the head sends the node after the miner's chain."""
        while self.head < target and not self._stop.is_set():
            start, end = self.head + 1, min(target, self.head + CATCH_UP_BATCH)
            fetched = time.time()
            blocks = self._fetch(start, end)
            if not blocks:
                return
            log.info("catching up blocks %d..%d", start, start + len(blocks) - 1)
            for block in blocks:
                if block.header.parent_hash != self.validator.state.head.hash:
                    if not self._follow_miner():
                        return
                    break  # rewound: go on from the new head
                if not self._validate(block, "fetch", fetched):
                    return

    # -- equivocation ----------------------------------------------------------------------

    def _equivocation(self, held: Header, other: Header) -> bool:
        """Keep the evidence that the miner sealed both ``held`` and ``other`` at one
        height; ``False`` when this pair was seen before."""
        try:
            if not self.store.put_equivocation(held, other, time.time()):
                return False
        except EvidenceFull as exc:
            self._drop("evidence_full", "not keeping an equivocation at %d: %s", held.number, exc)
            return False
        self.equivocations += 1
        log.warning(
            "equivocation: the miner sealed two blocks at height %d: 0x%s (held here) "
            "and 0x%s; following the chain the miner continues",
            held.number,
            held.hash.hex(),
            other.hash.hex(),
        )
        return True

    def _follow_miner(self) -> bool:
        """Compare the chain held here with the one the miner serves, from the head
        down; where they differ, keep the evidence and rewind to the last block both
        hold. ``True`` when the node rewound (the caller catches up from there)."""
        top = self.head
        while top > 0 and self.head - top < MAX_REWIND:
            start = max(1, top - CATCH_UP_BATCH + 1)
            theirs = self._fetch(start, top)
            if theirs is None:
                return False
            for number in range(top, start - 1, -1):
                held = self.store.block(number)
                other = theirs[number - start] if number - start < len(theirs) else None
                if held is None:
                    return False
                if other is not None and other.hash == held.hash:
                    return self._rewind(number, theirs)
            top = start - 1
        if top == 0:
            return self._rewind(0, [])
        log.error(
            "the miner's chain and this validator's differ for more than %d blocks: not "
            "following it; start this validator on an empty data directory",
            MAX_REWIND,
        )
        return False

    def _rewind(self, ancestor: int, theirs: list[Block]) -> bool:
        """Go back to block ``ancestor``, the last one shared with the miner's chain
        (``theirs`` holds the miner's blocks above it, as far as fetched)."""
        if ancestor == self.head:
            return False
        fork = next((b for b in theirs if b.header.number == ancestor + 1), None)
        with self.lock:
            held = self.store.block(ancestor + 1)
            if held is not None and fork is not None:
                self._equivocation(held.header, fork.header)
            removed = self.store.rewind(ancestor)
            self.validator.rewind(self.store.state_at(ancestor))
        self.times.rewound(ancestor)
        self.reports = [r for r in self.reports if r.number <= ancestor]
        self.rewinds += 1
        log.warning(
            "rewound %d block(s) to block %d to follow the miner's chain (kept as orphans)",
            len(removed),
            ancestor,
        )
        return True

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
                self._drop("signature", "dropped block %d: %s", header.number, exc)
                return False
            if exc.reason in BODY_MISMATCH:
                self._drop("body_mismatch", "dropped block %d: %s", header.number, exc)
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
        self.known_head = max(self.known_head, header.number)
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
