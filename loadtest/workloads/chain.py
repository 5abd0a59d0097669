"""JSON-RPC helpers the load tools share: send signed transactions in batches, walk new
blocks' receipts, and run a generator's setup batches against a live node.

Only Ethereum JSON-RPC (plus ``pavm_getVerdicts`` where asked) is used, so everything
here works against the miner of a process-mode testnet or a containerised one.
"""

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from common.chain.accounts import Wallet
from common.errors import PavmError
from common.evm.forks import decode_transaction
from common.rpc.client import RpcClient, call
from loadtest.testnet.probe import head
from loadtest.workloads.generator import TxGenerator

SEND_BATCH = 50
POOL_AHEAD = 64
"""Transactions one sender may have waiting beyond its next nonce (the pool's limit)."""


def pending_nonce(url: str, address: bytes) -> int:
    """The account's next nonce, counting transactions waiting in the pool."""
    return int(call(url, "eth_getTransactionCount", ["0x" + address.hex(), "pending"]), 16)


def chain_seconds(url: str, first: int, last: int) -> int:
    """Chain time spanned by blocks ``first..last``, inclusive: the miner stamps blocks at
    least a second apart, so each block counts as (at least) one second."""
    stamps = [
        int(call(url, "eth_getBlockByNumber", [hex(n), False])["timestamp"], 16)
        for n in (first, last)
    ]
    return stamps[1] - stamps[0] + 1


def block_receipts(node: RpcClient, number: int) -> list[dict[str, Any]]:
    """Every receipt of block ``number``; raises PavmError if the node has no such block
    (callers retry the same number, so no block is ever skipped)."""
    receipts = node.call("eth_getBlockReceipts", [hex(number)])
    if receipts is None:
        raise PavmError(f"block {number}: not found")
    return list(receipts)


def send(url: str, raws: Sequence[bytes]) -> list[tuple[str, float]]:
    """Send in JSON-RPC batches; (hash, monotonic send time) per transaction.

    Raises RuntimeError with the node's message if it refuses one.
    """
    sent: list[tuple[str, float]] = []
    with RpcClient(url, timeout=60) as node:
        for start in range(0, len(raws), SEND_BATCH):
            chunk = raws[start : start + SEND_BATCH]
            moment = time.monotonic()
            try:
                hashes = node.batch(
                    [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in chunk]
                )
            except PavmError as exc:
                raise RuntimeError(f"transaction refused: {exc}") from exc
            sent.extend((tx_hash, moment) for tx_hash in hashes)
    return sent


def wait_mined(url: str, hashes: set[str], timeout: float, after: int) -> dict[str, float]:
    """Monotonic time each hash was first seen in a block numbered above ``after``."""
    seen: dict[str, float] = {}
    number = after
    deadline = time.monotonic() + timeout
    with RpcClient(url, timeout=10) as node:
        while len(seen) < len(hashes) and time.monotonic() < deadline:
            top = int(node.call("eth_blockNumber"), 16)
            while number < top:
                receipts = block_receipts(node, number + 1)
                number += 1
                now = time.monotonic()
                for receipt in receipts:
                    if receipt["transactionHash"] in hashes:
                        seen.setdefault(receipt["transactionHash"], now)
            time.sleep(0.02)
    return seen


def windows(batch: Sequence[bytes], ahead: int = POOL_AHEAD) -> list[list[bytes]]:
    """``batch`` cut, in order, into windows in which no sender has more than ``ahead``
    transactions, so each window fits the pool once the one before is mined."""
    out: list[list[bytes]] = [[]]
    counts: Counter[bytes] = Counter()
    for raw in batch:
        sender = bytes(decode_transaction(raw).sender)
        if counts[sender] == ahead:
            out.append([])
            counts.clear()
        counts[sender] += 1
        out[-1].append(raw)
    return [window for window in out if window]


def run_batches(
    url: str, batches: Sequence[Sequence[bytes]], timeout: float, say: Callable[[str], None]
) -> None:
    """Send each batch (in pool-sized windows) and wait until all of it is mined and
    succeeded: a failed deployment or funding would fail everything after it."""
    steps = [w for batch in batches for w in windows(batch)]
    for number, step in enumerate(steps, start=1):
        say(f"setup step {number}/{len(steps)}: {len(step)} transactions")
        before = head(url)
        hashes = {h for h, _ in send(url, step)}
        seen = wait_mined(url, hashes, timeout, before)
        if len(seen) < len(hashes):
            raise RuntimeError(f"setup: {len(hashes) - len(seen)} transactions not mined")
        for tx_hash in hashes:
            receipt = call(url, "eth_getTransactionReceipt", [tx_hash])
            if receipt["status"] != "0x1":
                raise RuntimeError(f"setup transaction {tx_hash} failed")


def run_setup(
    url: str,
    generator: TxGenerator,
    deployer: Wallet,
    senders: Sequence[Wallet],
    funders: Sequence[Wallet] = (),
    timeout: float = 300,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Mine the generator's whole setup (nonces read from the node first)."""
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    for account in {deployer.address, *(s.address for s in senders), *(f.address for f in funders)}:
        generator.nonces[account] = pending_nonce(url, account)
    run_batches(url, generator.setup(deployer, senders, funders), timeout, say)


def block_verdicts(
    url: str, numbers: Sequence[int], validators: int | None, timeout: float
) -> dict[int, list[dict[str, Any]]]:
    """Validators' verdicts on each block: waits until ``validators`` verdicts are in
    for every block (or, when the count is unknown, until none arrive for 3 s), at most
    ``timeout`` seconds. Empty when the node does not serve ``pavm_getVerdicts``."""
    table: dict[int, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    previous = -1
    while True:
        try:
            table = {n: call(url, "pavm_getVerdicts", [hex(n)]) for n in numbers}
        except PavmError:
            return {}
        count = sum(len(v) for v in table.values())
        if count != previous:
            previous, quiet_since = count, time.monotonic()
        done = (
            all(len(v) >= validators for v in table.values())
            if validators is not None
            else time.monotonic() - quiet_since >= 3
        )
        if done or time.monotonic() >= deadline:
            return table
        time.sleep(0.5)
