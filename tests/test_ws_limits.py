"""A WebSocket's outgoing side is bounded in bytes: a client that does not read is
dropped once too much waits for it, and nothing more is kept for it."""

import asyncio

from common.rpc import ws


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


def test_one_answer_larger_than_the_limit_is_still_sent(monkeypatch):
    """A block's receipts may pass the limit alone: the answer is kept, and only what
    piles up behind it drops the socket."""
    monkeypatch.setattr(ws, "MAX_PENDING_BYTES", 10_000)

    async def run() -> ws._Connection:
        connection = ws._Connection()
        connection.push("r" * 30_000)
        assert not connection.dropped.is_set() and len(connection.outbox) == 1
        connection.push("y")
        return connection

    connection = asyncio.run(run())
    assert connection.dropped.is_set() and not connection.outbox
