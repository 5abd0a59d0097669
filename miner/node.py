"""The miner node: pool, block loop, storage, broadcast and the verdicts that come back.

eth_sendRawTransaction ─▶ pool (journaled) ─▶ block loop: every --block-txs waiting
transactions or --block-interval seconds ─▶ build_block in the builder's process
(``miner/builder_process.py``) ─▶ one store transaction (state, block, receipts,
journal clean-up) ─▶ broadcast (HTTP fan-out / Redis)
"""

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from eth_typing import Address

from common.chain.accounts import address_of
from common.chain.block import Block
from common.chain.genesis import GenesisSpec
from common.encoding.untrusted import load_json
from common.net.block_times import BlockTimes
from common.net.membership import AlreadyRecorded, NotAMember
from common.net.transport import HttpFanout, Verdict, redis_channels
from common.store.chain import ChainStore
from common.store.kv import LmdbDB
from miner.builder_process import BuilderProcess
from miner.members import Members
from miner.txpool import TxPool

log = logging.getLogger("pavm.miner")


@dataclass
class MinerSettings:
    data_dir: Path
    key: bytes
    genesis: GenesisSpec
    block_txs: int = 300
    block_interval: float = 2.0
    peers: list[str] = field(default_factory=list)
    transport: str = "http"
    redis_url: str | None = None
    redis_password: str | None = None
    join_token: bytes = b""
    """The network's membership secret: only validators that prove it may register."""
    subcall_helpers: int | None = None
    """Processes that speculate sub-calls while a block is built (``None``: one per
    core the miner may use, but for the builder's own)."""

    dev: bool = False
    """A dev network: the development conveniences of ``miner/dev.py`` are served."""

    def helpers(self) -> int:
        if self.subcall_helpers is not None:
            return self.subcall_helpers
        return max(0, len(os.sched_getaffinity(0)) - 1)


@dataclass
class Mining:
    """When blocks are mined and which timestamps they get (dev methods change it)."""

    interval: float | None
    """Mine whatever waits after this many seconds; ``None``: not on a timer."""
    automine: bool = False
    """Mine as soon as any transaction waits."""
    offset: int = 0
    """Seconds added to the clock (evm_increaseTime)."""
    next_timestamp: int | None = None
    """The next block's timestamp, once (evm_setNextBlockTimestamp)."""

    def timestamp(self, parent: int) -> int:
        """The next block's timestamp: after its parent's, always."""
        chosen, self.next_timestamp = self.next_timestamp, None
        if chosen is None:
            chosen = int(time.time()) + self.offset
        return max(parent + 1, chosen)


class MinerNode:
    """Everything the miner service does, independent of HTTP."""

    def __init__(self, settings: MinerSettings) -> None:
        self.settings = settings
        self.address = address_of(settings.key)
        self.db = LmdbDB(settings.data_dir / "chain")
        self.store = ChainStore(self.db)
        try:
            self.store.open_chain(settings.genesis.alloc, settings.genesis.config)
        except Exception:
            self.db.close()
            raise
        self.state = self.store.head_state()
        self.lock = threading.RLock()
        self.txpool = TxPool(self.store, self.lock, lambda: self.state)
        self.restored = self.txpool.restore()
        self.members = Members(self.store, settings.join_token)
        self.fanout = HttpFanout()
        self.times = BlockTimes()
        """When the recent blocks were sealed (``pavm_getBlockTimes``)."""
        self.redis_blocks, self.redis_verdicts = redis_channels(
            settings.transport, settings.redis_url, settings.redis_password
        )
        self._wake = threading.Condition()
        self.mining = Mining(interval=settings.block_interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.blocks_mined = 0
        self.txs_mined = 0
        self.subcalls_lent = 0
        self._builder: BuilderProcess | None = None

    @property
    def builder(self) -> BuilderProcess:
        """The block builder's process, started at first use."""
        if self._builder is None:
            settings = self.settings
            config, helpers = settings.genesis.config, settings.helpers()
            self._builder = BuilderProcess(self.db, config, settings.key, helpers)
        return self._builder

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.builder  # noqa: B018 - spawn it now rather than at the first block
        self._thread = threading.Thread(target=self._loop, daemon=True, name="block-loop")
        self._thread.start()
        if self.redis_verdicts is not None:
            self.redis_verdicts.start(self._verdict_message, lambda: None)

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(10)
        self.fanout.close()
        for channel in (self.redis_blocks, self.redis_verdicts):
            if channel is not None:
                channel.close()
        if self._builder is not None:
            self._builder.close()
        self.db.close()

    # -- transactions ----------------------------------------------------------------------

    def submit(self, raw: bytes) -> bytes:
        """Add a raw transaction to the pool (journaled) and wake the block loop."""
        tx_hash = self.txpool.add(raw)
        self.wake()
        return tx_hash

    # -- block loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        """Mine when ``block_txs`` transactions wait or ``block_interval`` has passed. A
        pool that had nothing to mine is not tried again until it changes or the
        interval passes, so transactions that cannot run yet (behind a nonce gap) never
        make the loop spin."""
        last_block = time.monotonic()
        idle_at: int | None = None
        """The pool's size when it last had nothing executable."""
        while not self._stop.is_set():
            with self._wake:
                self._wake.wait(timeout=0.05)
            waiting = len(self.txpool)
            interval = self.mining.interval
            due = interval is not None and time.monotonic() - last_block >= interval
            enough = 1 if self.mining.automine else self.settings.block_txs
            full = waiting >= enough and waiting != idle_at
            if waiting and (full or due):
                try:
                    self.txpool.expire()
                    idle_at = None if self.produce_block() else waiting
                except Exception:
                    log.exception("block production failed")
                last_block = time.monotonic()
            elif due:
                last_block = time.monotonic()

    def wake(self) -> None:
        """Make the block loop look again now (mining settings changed)."""
        with self._wake:
            self._wake.notify_all()

    def mine_now(self) -> Block:
        """Mine one block at once (the caller's thread; the state lock orders it with
        the block loop), empty if nothing is executable."""
        block = self.produce_block(empty=True)
        assert block is not None
        return block

    def produce_block(self, empty: bool = False) -> Block | None:
        """Mine the executable transactions waiting now; ``None`` when there are none
        (unless ``empty``: then the block has none)."""
        with self.lock:
            parent = self.state
            accounts = parent.account_db()
            nonces = {s: accounts.get_nonce(Address(s)) for s in self.txpool.senders()}
            chosen = self.txpool.executable(self.settings.block_txs, nonces)
            if not chosen and not empty:
                return None
            timestamp = self.mining.timestamp(parent.head.timestamp)
            raws = [e.raw for e in chosen]
            built, nodes, lent = self.builder.build(parent, raws, timestamp)
            for s in built.skipped:
                if not s.deferred:
                    tx_hash = chosen[s.position].hash.hex()
                    log.info("dropped transaction 0x%s: %s", tx_hash, s.reason)
            block = built.block
            # Included transactions leave the pool, and so do skipped ones: they failed
            # against the state they would run on, and their reason is logged above.
            # Deferred ones stay for a later block.
            kept = {chosen[s.position].hash for s in built.skipped if s.deferred}
            gone = [e.hash for e in chosen if e.hash not in kept]
            with self.db.atomic_batch() as batch:
                for key, value in nodes.items():
                    batch[key] = value
                self.store.put_block(batch, block, [o.receipt for o in built.outcomes])
                self.store.forget_transactions(batch, gone)
            self.state = built.state
            self.txpool.remove(gone)
            settled = built.state.account_db()
            self.txpool.remove_settled(
                {s: settled.get_nonce(Address(s)) for s in {e.sender for e in chosen}}
            )
            self.blocks_mined += 1
            self.subcalls_lent += lent
            self.txs_mined += len(block.transactions)
        self.broadcast(block)
        return block

    @property
    def peers(self) -> list[str]:
        """Where blocks are pushed over HTTP: ``--peers`` and members' URLs."""
        return sorted({*self.settings.peers, *self.members.urls()})

    def broadcast(self, block: Block) -> None:
        data = block.encode()
        self.times.record(block.header.number, "sealed", time.time())
        if self.settings.transport in ("http", "both"):
            self.fanout.send(self.peers, "/blocks", data, "application/octet-stream")
        if self.redis_blocks is not None:
            self.redis_blocks.publish(data)

    # -- members and verdicts --------------------------------------------------------------

    def record_verdict(self, verdict: Verdict) -> None:
        """Keep a member's signed verdict on a block this miner mined; ``NotAMember``
        when no member of that name signed it, ``ValueError`` for a verdict about any
        other block (not mined yet, or with another hash), ``AlreadyRecorded`` for one
        kept already (one verdict per validator and block hash: a replay, even signed,
        changes nothing; a verdict on a block mined again at that height replaces it)."""
        member = self.members.get(verdict.validator)
        if member is None or verdict.signer() != member.address:
            raise NotAMember(f"verdict not signed by a member named {verdict.validator}")
        if self.store.number_of(bytes.fromhex(verdict.block_hash[2:])) != verdict.number:
            raise ValueError(
                f"verdict on block {verdict.number} {verdict.block_hash}: "
                "this miner mined no such block"
            )
        kept = self.store.verdict(verdict.number, verdict.validator)
        if kept is not None and kept.get("block_hash") == verdict.block_hash:
            raise AlreadyRecorded(
                f"{verdict.validator}'s verdict on block {verdict.number} "
                f"{verdict.block_hash} is already recorded (a verdict counts once)"
            )
        self.members.heard_from(verdict.validator)
        self.store.put_verdict(verdict.number, verdict.validator, verdict.to_json())

    def _verdict_message(self, payload: bytes) -> None:
        try:
            self.record_verdict(Verdict.from_json(load_json(payload)))
        except AlreadyRecorded:
            pass  # the same verdict came over HTTP too (transport "both")
        except (ValueError, NotAMember) as exc:
            log.warning("ignored verdict: %s", exc)
