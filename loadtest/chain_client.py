"""JSON-RPC helpers the load tools share: send signed transactions in batches, wait for
them in blocks, and run a generator's setup batches against a live node.

Only Ethereum JSON-RPC is used, so everything here works against the miner of a
process-mode testnet, a containerised one, or anything that speaks the same methods.
"""

import sys
import time
from collections.abc import Callable, Sequence

import httpx

from common.testnet import rpc
from loadtest.generator import TxGenerator
from loadtest.workload import Wallet

SEND_BATCH = 50


def pending_nonce(url: str, address: bytes) -> int:
    """The account's next nonce, counting transactions waiting in the pool."""
    return int(rpc(url, "eth_getTransactionCount", ["0x" + address.hex(), "pending"]), 16)


def head(url: str) -> int:
    return int(rpc(url, "eth_blockNumber"), 16)


def send(url: str, raws: Sequence[bytes]) -> list[tuple[str, float]]:
    """Send in JSON-RPC batches; (hash, monotonic send time) per transaction.

    Raises RuntimeError with the node's message if it refuses one.
    """
    sent = []
    with httpx.Client(timeout=60) as client:
        for start in range(0, len(raws), SEND_BATCH):
            chunk = raws[start : start + SEND_BATCH]
            batch = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_sendRawTransaction",
                    "params": ["0x" + raw.hex()],
                }
                for i, raw in enumerate(chunk)
            ]
            moment = time.monotonic()
            for answer in sorted(client.post(url, json=batch).json(), key=lambda a: a["id"]):
                if "error" in answer:
                    raise RuntimeError(f"transaction refused: {answer['error']['message']}")
                sent.append((answer["result"], moment))
    return sent


def wait_mined(url: str, hashes: set[str], timeout: float, after: int) -> dict[str, float]:
    """Monotonic time each hash was first seen in a block numbered above ``after``."""
    seen: dict[str, float] = {}
    number = after
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        while len(seen) < len(hashes) and time.monotonic() < deadline:
            top = head(url)
            while number < top:
                number += 1
                body = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "eth_getBlockByNumber",
                    "params": [hex(number), False],
                }
                block = client.post(url, json=body).json()["result"]
                now = time.monotonic()
                for tx_hash in block["transactions"]:
                    if tx_hash in hashes:
                        seen.setdefault(tx_hash, now)
            time.sleep(0.02)
    return seen


def run_setup(
    url: str,
    generator: TxGenerator,
    deployer: Wallet,
    senders: Sequence[Wallet],
    funder: Wallet | None = None,
    timeout: float = 300,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Mine the generator's setup batches one after the other, each fully, and check
    every setup transaction succeeded (a failed deployment would fail every later one).
    """
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    for account in {deployer.address, *(s.address for s in senders)} | (
        {funder.address} if funder else set()
    ):
        generator.nonces[account] = pending_nonce(url, account)
    run_batches(url, generator.setup(deployer, senders, funder), timeout, say)


def run_batches(
    url: str, batches: Sequence[Sequence[bytes]], timeout: float, say: Callable[[str], None]
) -> None:
    """Send each non-empty batch and wait until all of it is mined and succeeded."""
    batches = [b for b in batches if b]
    for number, batch in enumerate(batches, start=1):
        say(f"setup batch {number}/{len(batches)}: {len(batch)} transactions")
        before = head(url)
        hashes = {h for h, _ in send(url, batch)}
        seen = wait_mined(url, hashes, timeout, before)
        if len(seen) < len(hashes):
            raise RuntimeError(f"setup: {len(hashes) - len(seen)} transactions not mined")
        for tx_hash in hashes:
            receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash])
            if receipt["status"] != "0x1":
                raise RuntimeError(f"setup transaction {tx_hash} failed")
