"""Log queries: the filter object of ``eth_getLogs``/``eth_newFilter``/``logs``
subscriptions, parsed once, and the scan of stored blocks that answers it.

Errors follow go-ethereum: -32602 for a block hash together with a range, for
``fromBlock > toBlock`` and for a range past the head; limits follow reth (100 000
blocks, 20 000 logs per answer)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from common.chain.block import Block
from common.chain.receipts import Log
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.hexcodec import parse_address, parse_block_tag, parse_hash
from common.rpc.views import BlockPlace, block_place, log_json
from common.store.chain import ChainStore

MAX_LOG_RANGE = 100_000
"""Blocks one eth_getLogs may scan (reth's default)."""
MAX_LOGS = 20_000
"""Logs one eth_getLogs may return (reth's default)."""
MAX_ADDRESSES = 1_000
"""Addresses one filter may name."""


@dataclass(frozen=True)
class LogCriteria:
    """Which logs a filter wants: addresses (any of, empty = all) and up to four topic
    positions (``None`` = any; else any of the set)."""

    addresses: frozenset[bytes]
    positions: tuple[frozenset[bytes] | None, ...]
    from_block: int | str = "latest"
    to_block: int | str = "latest"
    block_hash: bytes | None = None

    def matches(self, log: Log) -> bool:
        address, topics, _ = log
        if self.addresses and address not in self.addresses:
            return False
        if len(self.positions) > len(topics):
            return False
        return all(p is None or topics[i] in p for i, p in enumerate(self.positions))


def log_criteria(query: Any) -> LogCriteria:
    """Parse a filter object; anything malformed is -32602 naming the field."""
    if not isinstance(query, dict):
        raise invalid_params("invalid argument 0: filter object expected")
    ranged = query.get("fromBlock") is not None or query.get("toBlock") is not None
    if query.get("blockHash") is not None and ranged:
        raise invalid_params(
            "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
        )
    addresses = query.get("address")
    if isinstance(addresses, str):
        addresses = [addresses]
    if addresses is not None and not isinstance(addresses, list):
        raise invalid_params("invalid argument 0: address must be an address or a list")
    if addresses and len(addresses) > MAX_ADDRESSES:
        raise invalid_params(f"invalid argument 0: at most {MAX_ADDRESSES} addresses")
    topic_filter = query.get("topics") or []
    if not isinstance(topic_filter, list) or len(topic_filter) > 4:
        raise invalid_params("invalid argument 0: at most 4 topic positions")
    positions: list[frozenset[bytes] | None] = []
    for position in topic_filter:
        if position is None:
            positions.append(None)
        elif isinstance(position, list):
            positions.append(frozenset(parse_hash(t, "topic") for t in position) or None)
        else:
            positions.append(frozenset({parse_hash(position, "topic")}))
    while positions and positions[-1] is None:  # trailing wildcards match anything
        positions.pop()
    return LogCriteria(
        addresses=frozenset(parse_address(a, "address") for a in addresses or []),
        positions=tuple(positions),
        from_block=parse_block_tag(query.get("fromBlock") or "latest", "fromBlock"),
        to_block=parse_block_tag(query.get("toBlock") or "latest", "toBlock"),
        block_hash=None
        if query.get("blockHash") is None
        else parse_hash(query["blockHash"], "blockHash"),
    )


def block_range(
    criteria: LogCriteria, store: ChainStore, resolve: Callable[[int | str], int]
) -> tuple[int, int]:
    """The first and last block a query covers, checked against the head."""
    if criteria.block_hash is not None:
        number = store.number_of(criteria.block_hash)
        if number is None:
            raise RpcError(SERVER_ERROR, "unknown block")
        return number, number
    head = store.head_number()
    first, last = resolve(criteria.from_block), resolve(criteria.to_block)
    if first > last:
        raise invalid_params("invalid block range params")
    if last > head:
        raise invalid_params("block range extends beyond current head block")
    if last - first + 1 > MAX_LOG_RANGE:
        raise invalid_params(f"exceed maximum block range {MAX_LOG_RANGE}")
    return first, last


def block_logs(
    block: Block, receipts: list[Any], criteria: LogCriteria
) -> Iterator[dict[str, Any]]:
    """The logs of one block that match, in block order."""
    log_index = 0
    place: BlockPlace | None = None
    for index, receipt in enumerate(receipts):
        for log in receipt.logs:
            if criteria.matches(log):
                place = place or block_place(block)
                tx_hash = bytes(keccak(block.transactions[index]))
                yield log_json(place, index, tx_hash, log_index, log)
            log_index += 1


def scan(store: ChainStore, criteria: LogCriteria, first: int, last: int) -> list[dict[str, Any]]:
    """Every matching log of blocks ``first..last``; more than ``MAX_LOGS`` is refused."""
    out: list[dict[str, Any]] = []
    for number in range(first, last + 1):
        block = store.block(number)
        if block is None:
            continue
        for entry in block_logs(block, store.receipts(number) or [], criteria):
            if len(out) == MAX_LOGS:
                raise invalid_params(f"query returns more than {MAX_LOGS} logs")
            out.append(entry)
    return out
