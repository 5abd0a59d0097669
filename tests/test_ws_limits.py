"""A WebSocket's outgoing side is bounded in bytes: a client that does not read is
dropped once too much waits for it, and nothing more is kept for it. One client's
sockets together cannot take every ``logs`` subscription of the node."""

import asyncio
from typing import cast

import pytest

from common.rpc import ws
from common.rpc.errors import RpcError
from common.store.chain import ChainStore


def test_a_socket_with_too_much_waiting_is_dropped(monkeypatch):
    monkeypatch.setattr(ws, "MAX_PENDING_BYTES", 10_000)

    async def run() -> ws._Connection:
        connection = ws._Connection()
        for _ in range(9):
            connection.push("x" * 1000)
        assert not connection.dropped.is_set() and len(connection.outbox) == 9
        connection.push("x" * 2000)
        connection.push("y")
        return connection

    connection = asyncio.run(run())
    assert connection.dropped.is_set() and not connection.outbox


def test_one_client_cannot_take_every_logs_subscription():
    # Subscribing reads no store.
    subscriptions = ws.Subscriptions(cast(ChainStore, None), 31337, pending=False)
    greedy = [ws._Connection("10.0.0.1") for _ in range(3)]
    other = ws._Connection("10.0.0.2")
    subscriptions.connections.update([*greedy, other])
    for connection in greedy[:2]:
        for _ in range(ws.MAX_LOG_SUBSCRIPTIONS_PER_CLIENT // 2):
            subscriptions.subscribe(connection, "logs", {})
    with pytest.raises(RpcError, match=r"too many logs subscriptions from 10\.0\.0\.1: at most 64"):
        subscriptions.subscribe(greedy[2], "logs", {})
    assert subscriptions.subscribe(greedy[2], "newHeads")  # other kinds still allowed
    assert subscriptions.subscribe(other, "logs", {})


def test_one_answer_larger_than_the_limit_is_still_sent(monkeypatch):
    """A block's receipts may pass the limit alone: the answer is kept, and only what
    piles up behind it drops the socket."""
    monkeypatch.setattr(ws, "MAX_PENDING_BYTES", 10_000)

    async def run() -> ws._Connection:
        connection = ws._Connection("10.0.0.1")
        connection.push("r" * 30_000)
        assert not connection.dropped.is_set() and len(connection.outbox) == 1
        connection.push("y")
        return connection

    connection = asyncio.run(run())
    assert connection.dropped.is_set() and not connection.outbox
