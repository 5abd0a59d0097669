"""The chain store: blocks, receipts, transaction index and head, next to the state tries.

Everything lives in one key-value database (LMDB on disk, or memory in tests). Trie
nodes and contract code sit under their 32-byte hashes, as py-evm keeps them; the
chain's own records sit under ``pavm/...`` keys, whose lengths never equal 32, so the
two cannot collide::

    pavm/config                chain parameters (JSON)
    pavm/head                  number of the head block
    pavm/block/<n>             block n in its wire encoding
    pavm/blocksum/<n>          keccak of that encoding (a damaged block is refused)
    pavm/hash/<hash>           number of the block with that hash
    pavm/receipts/<n>          the operation receipts of block n
    pavm/tx/<hash>             (block number, index) of a transaction
    pavm/pool/<hash>           a transaction acknowledged to a client, not yet mined
    pavm/verdict/<n>/<name>    a validator's verdict on block n (miner only, JSON)
    pavm/member/<name>         a validator's registration (miner only, JSON)
    pavm/orphan/<hash>         a block a rewind took off the chain (validator only)
    pavm/equivocation/<n>/<hash a><hash b>
                               two blocks at height n both sealed by the miner (JSON)

A block and its records are written in one transaction, the head pointer with them,
so a node killed at any point restarts at a block it fully stored.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from eth_hash.auto import keccak

from common.chain.block import Block, Header
from common.chain.receipts import OpReceipt
from common.chain.state import MAX_ANCESTORS, ChainConfig, ChainState, GenesisAccount
from common.encoding import codec
from common.errors import PavmError, StoreCorrupted

log = logging.getLogger("pavm.store")

_CONFIG = b"pavm/config"
_HEAD = b"pavm/head"


def _block_key(number: int) -> bytes:
    return b"pavm/block/" + number.to_bytes(8, "big")


def _checksum_key(number: int) -> bytes:
    return b"pavm/blocksum/" + number.to_bytes(8, "big")


def _receipts_key(number: int) -> bytes:
    return b"pavm/receipts/" + number.to_bytes(8, "big")


def _hash_key(block_hash: bytes) -> bytes:
    return b"pavm/hash/" + block_hash


def _tx_key(tx_hash: bytes) -> bytes:
    return b"pavm/tx/" + tx_hash


_POOL = b"pavm/pool/"
_MEMBER = b"pavm/member/"
MAX_EQUIVOCATIONS = 1024
"""Equivocations kept at most: each is a pair of headers only the miner's key can make,
so more means the key is out of the miner's hands, and the first ones prove it."""
_ORPHAN = b"pavm/orphan/"
_EQUIVOCATION = b"pavm/equivocation/"


def _verdict_prefix(number: int) -> bytes:
    return b"pavm/verdict/" + number.to_bytes(8, "big") + b"/"


def encode_receipts(receipts: Sequence[OpReceipt]) -> bytes:
    """Wire form of a block's receipts, in block order."""
    return codec.encode([r.to_rlp() for r in receipts])


def decode_receipts(data: bytes) -> list[OpReceipt]:
    """Inverse of :func:`encode_receipts`."""
    out = []
    for item in codec.decode(data):
        status, gas_used, logs, read_hash, write_hash = item
        out.append(
            OpReceipt(
                status=codec.to_uint(status),
                gas_used=codec.to_uint(gas_used),
                logs=tuple((log[0], tuple(log[1]), log[2]) for log in logs),
                read_hash=read_hash,
                write_hash=write_hash,
            )
        )
    return out


class EvidenceFull(PavmError):
    """Thrown when another equivocation would pass ``MAX_EQUIVOCATIONS``."""


class ChainStore:
    """Blocks and receipts of one node, over the database that also holds its state."""

    def __init__(self, db: Any) -> None:
        self.db = db

    # -- writing -------------------------------------------------------------------

    def initialise(self, genesis: ChainState) -> None:
        """Record a new chain's parameters and block 0 (its state is already in ``db``)."""
        if _HEAD in self.db:
            raise PavmError("this store already holds a chain")
        with self.db.atomic_batch() as batch:
            batch[_CONFIG] = json.dumps(genesis.config.to_json()).encode()
            self.put_block(batch, Block(genesis.head, (), (), (), ()), [])

    def open_chain(self, alloc: Mapping[bytes, GenesisAccount], config: ChainConfig) -> None:
        """Start the chain from the genesis ``alloc`` and ``config`` make, in an empty
        store; in one that holds a chain, refuse (``PavmError``) unless its block 0 is
        that genesis: a node given another genesis file or gas schedule than the one
        its data was made with must not run on it."""
        if not self.has_chain():
            self.initialise(ChainState.genesis(alloc, config, self.db))
            return
        expected = ChainState.genesis(alloc, config).head.hash
        genesis = self.block(0)
        stored = genesis.header.hash if genesis is not None else b""
        if stored != expected:
            raise PavmError(
                f"this data directory holds a chain whose block 0 is 0x{stored.hex()}; the "
                f"genesis file and gas schedule given make 0x{expected.hex()} (start with "
                "the files the chain was made with, or an empty data directory)"
            )

    def append(self, block: Block, receipts: Sequence[OpReceipt]) -> None:
        """Store a block whose state is already in ``db``, and make it the head."""
        with self.db.atomic_batch() as batch:
            self.put_block(batch, block, receipts)

    def put_block(self, batch: Any, block: Block, receipts: Sequence[OpReceipt]) -> None:
        """Write ``block``, its records and the head pointer inside ``batch``."""
        number = block.header.number
        data = block.encode()
        batch[_block_key(number)] = data
        batch[_checksum_key(number)] = bytes(keccak(data))
        batch[_hash_key(block.hash)] = number.to_bytes(8, "big")
        batch[_receipts_key(number)] = encode_receipts(receipts)
        for index, raw in enumerate(block.transactions):
            batch[_tx_key(bytes(keccak(raw)))] = number.to_bytes(8, "big") + index.to_bytes(
                4, "big"
            )
        batch[_HEAD] = number.to_bytes(8, "big")

    def rewind(self, number: int) -> list[Block]:
        """Make block ``number`` the head again (its state is still in ``db``: trie
        nodes are never deleted) and return the blocks taken off above it, newest
        first. They stay readable by hash under ``pavm/orphan/``, the evidence of what
        this node once held; everything else about them goes, in one transaction."""
        head = self.head_number()
        if not 0 <= number <= head:
            raise PavmError(f"cannot rewind to block {number}: the head is {head}")
        removed = []
        with self.db.atomic_batch() as batch:
            for height in range(head, number, -1):
                data = self.block_bytes(height)
                if data is None:
                    raise StoreCorrupted(f"block {height} is missing below the head")
                block = Block.decode(data)
                batch[_ORPHAN + block.hash] = data
                for key in (_block_key(height), _checksum_key(height), _receipts_key(height)):
                    if key in batch:
                        del batch[key]
                if _hash_key(block.hash) in batch:
                    del batch[_hash_key(block.hash)]
                for raw in block.transactions:
                    key = _tx_key(bytes(keccak(raw)))
                    if key in batch and int.from_bytes(batch[key][:8], "big") == height:
                        del batch[key]
                removed.append(block)
            batch[_HEAD] = number.to_bytes(8, "big")
        return removed

    def orphan(self, block_hash: bytes) -> Block | None:
        """A block :meth:`rewind` took off the chain, by its hash."""
        try:
            return Block.decode(bytes(self.db[_ORPHAN + block_hash]))
        except KeyError:
            return None

    def put_equivocation(self, held: Header, other: Header, seen_at: float) -> bool:
        """Keep the evidence that the miner sealed two blocks at one height: both
        headers (anyone can check both seals). ``False`` when it was kept already,
        :class:`EvidenceFull` when ``MAX_EQUIVOCATIONS`` are."""
        first, second = sorted((held.hash, other.hash))
        key = _EQUIVOCATION + held.number.to_bytes(8, "big") + b"/" + first + second
        if key in self.db:
            return False
        if len(self.db.items_with_prefix(_EQUIVOCATION)) >= MAX_EQUIVOCATIONS:
            raise EvidenceFull(
                f"{MAX_EQUIVOCATIONS} equivocations are kept already: the miner's key seals "
                "blocks it should not (replace the key, start validators afresh)"
            )
        record = {
            "number": held.number,
            "held": "0x" + codec.encode(held.to_rlp()).hex(),
            "other": "0x" + codec.encode(other.to_rlp()).hex(),
            "seenAt": seen_at,
        }
        with self.db.atomic_batch() as batch:
            batch[key] = json.dumps(record).encode()
        return True

    def equivocations(self) -> list[dict[str, Any]]:
        """Every equivocation kept, by height: ``number``, the RLP of the header this
        node held (``held``) and of the other one (``other``), and when it was seen."""
        return [json.loads(v) for _, v in self.db.items_with_prefix(_EQUIVOCATION)]

    def journal_transaction(self, tx_hash: bytes, raw: bytes) -> None:
        """Keep an acknowledged transaction until a block includes it (invariant 7,
        docs/architecture.md)."""
        with self.db.atomic_batch() as batch:
            batch[_POOL + tx_hash] = raw

    def forget_transactions(self, batch: Any, tx_hashes: Sequence[bytes]) -> None:
        """Drop journaled transactions (mined or replaced) inside ``batch``."""
        for tx_hash in tx_hashes:
            key = _POOL + tx_hash
            if key in batch:
                del batch[key]

    def journaled_transactions(self) -> list[bytes]:
        """Raw transactions of the journal (needs a store that can list keys: LMDB)."""
        return [raw for _, raw in self.db.items_with_prefix(_POOL)]

    def put_verdict(self, number: int, validator: str, verdict: dict[str, Any]) -> None:
        with self.db.atomic_batch() as batch:
            batch[_verdict_prefix(number) + validator.encode()] = json.dumps(verdict).encode()

    def verdict(self, number: int, validator: str) -> dict[str, Any] | None:
        """``validator``'s verdict on block ``number``, ``None`` when none is kept."""
        try:
            return dict(json.loads(self.db[_verdict_prefix(number) + validator.encode()]))
        except KeyError:
            return None

    def verdicts(self, number: int) -> list[dict[str, Any]]:
        """Verdicts received for block ``number``, by validator name."""
        return [json.loads(v) for _, v in self.db.items_with_prefix(_verdict_prefix(number))]

    def put_member(self, name: str, registration: dict[str, str]) -> None:
        """Keep a validator's registration, so membership survives a restart."""
        with self.db.atomic_batch() as batch:
            batch[_MEMBER + name.encode()] = json.dumps(registration).encode()

    def forget_member(self, name: str) -> None:
        """Drop a validator's registration (another took its place)."""
        with self.db.atomic_batch() as batch:
            del batch[_MEMBER + name.encode()]

    def members(self) -> list[dict[str, str]]:
        """Every registration kept, by name."""
        return [json.loads(v) for _, v in self.db.items_with_prefix(_MEMBER)]

    # -- reading -------------------------------------------------------------------

    def has_chain(self) -> bool:
        return _HEAD in self.db

    def config(self) -> ChainConfig:
        return ChainConfig.from_json(json.loads(self.db[_CONFIG]))

    def head_number(self) -> int:
        return int.from_bytes(self.db[_HEAD], "big")

    def block(self, number: int) -> Block | None:
        """Block ``number``, or ``None`` beyond the head."""
        data = self.block_bytes(number)
        return None if data is None else Block.decode(data)

    def block_bytes(self, number: int) -> bytes | None:
        """Wire encoding of block ``number`` (what catch-up serves), or ``None``;
        :class:`StoreCorrupted` when the bytes no longer match their checksum, so a
        damaged block is reported, never served or validated again and again."""
        try:
            data = bytes(self.db[_block_key(number)])
        except KeyError:
            return None
        try:
            checksum = self.db[_checksum_key(number)]
        except KeyError:
            return data  # written before checksums were kept
        if bytes(keccak(data)) != checksum:
            log.error("store corrupted: block %d does not match its checksum", number)
            raise StoreCorrupted(f"block {number} in the store is damaged (checksum mismatch)")
        return data

    def number_of(self, block_hash: bytes) -> int | None:
        try:
            return int.from_bytes(self.db[_hash_key(block_hash)], "big")
        except KeyError:
            return None

    def receipts(self, number: int) -> list[OpReceipt] | None:
        try:
            return decode_receipts(self.db[_receipts_key(number)])
        except KeyError:
            return None

    def transaction_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(block number, index) of a mined transaction."""
        try:
            raw = self.db[_tx_key(tx_hash)]
        except KeyError:
            return None
        return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")

    def head_state(self) -> ChainState:
        """The chain state at the stored head, ready to build or validate the next block."""
        return self.state_at(self.head_number())

    def state_at(self, number: int) -> ChainState:
        """The chain state after block ``number`` (its state root and 256 ancestors)."""
        headers: list[Header] = []
        for ancestor in range(number, max(-1, number - MAX_ANCESTORS), -1):
            block = self.block(ancestor)
            if block is None:
                raise PavmError(f"store is missing block {ancestor}")
            headers.append(block.header)
        return ChainState(self.db, self.config(), headers[0], tuple(h.hash for h in headers))
