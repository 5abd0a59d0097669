"""The scenario links' delay proxy on 127.0.0.1: bytes arrive intact and in order, no
earlier than the latency allows, jitter never reorders, and connections are bounded."""

import asyncio
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.scenario import delay_proxy
from loadtest.scenario.delay_proxy import Delay, DelayProxy


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _through(delay: Delay, chunks: list[bytes]) -> tuple[bytes, float, list[float]]:
    """Send ``chunks`` through a proxy to an echo server: what came back, the time to
    the first echoed byte, and when each chunk's echo was complete."""
    server, port = await _echo_server()
    proxy = DelayProxy(("127.0.0.1", port), delay, seed=1)
    listen = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listen)
        started = time.monotonic()
        received = b""
        first = None
        done_at: list[float] = []
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            while len(received) < sum(map(len, chunks[: len(done_at) + 1])):
                received += await reader.read(65536)
                if first is None:
                    first = time.monotonic() - started
            done_at.append(time.monotonic() - started)
        writer.close()
        return received, first or 0.0, done_at
    finally:
        await proxy.close()
        server.close()


def test_a_round_trip_takes_at_least_twice_the_latency():
    received, first, _ = asyncio.run(_through(Delay(0.08), [b"ping"]))
    assert received == b"ping"
    assert first >= 0.16  # there and back, each delayed


@settings(max_examples=15, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=12))
def test_jittered_bytes_arrive_intact_and_in_order(chunks):
    received, _, _ = asyncio.run(_through(Delay(0.004, 0.004), chunks))
    assert received == b"".join(chunks)


def test_connections_beyond_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(delay_proxy, "MAX_CONNECTIONS", 2)

    async def scenario() -> tuple[int, bytes]:
        server, port = await _echo_server()
        proxy = DelayProxy(("127.0.0.1", port), Delay(0.0))
        listen = await proxy.start("127.0.0.1", 0)
        held = [await asyncio.open_connection("127.0.0.1", listen) for _ in range(2)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", listen)
        try:
            refused = await reader.read(10)  # closed at once: EOF
        except ConnectionResetError:
            refused = b""
        writer.close()
        for _, w in held:
            w.close()
        await asyncio.sleep(0.2)  # the proxy sees them go
        assert proxy.open == 0
        await proxy.close()
        server.close()
        return proxy.refused, refused

    refused, answer = asyncio.run(scenario())
    assert refused == 1 and answer == b""


def test_bad_delays_are_refused():
    with pytest.raises(ValueError, match="jitter"):
        Delay(0.01, 0.02)
    with pytest.raises(SystemExit):
        delay_proxy.main(["--listen", "nohost", "--upstream", "a:1", "--latency-ms", "5"])


def test_a_changed_settings_file_changes_the_delay_and_a_bad_one_keeps_it(tmp_path):
    settings = tmp_path / "delay.json"
    settings.write_text('{"latency_ms": 40, "jitter_ms": 4}')

    async def follow() -> list[Delay]:
        proxy = DelayProxy(None, Delay(0.0))
        task = asyncio.create_task(delay_proxy._follow(proxy, settings))
        seen = []
        await asyncio.sleep(0.2)
        seen.append(proxy.delay)
        settings.write_text('{"latency_ms": 5}')
        os.utime(settings, ns=(1, 10**18))  # a new mtime even within one clock tick
        await asyncio.sleep(1.2)
        seen.append(proxy.delay)
        settings.write_text('{"latency_ms": 1, "jitter_ms": 9}')  # jitter above latency
        os.utime(settings, ns=(1, 2 * 10**18))
        await asyncio.sleep(1.2)
        seen.append(proxy.delay)
        task.cancel()
        return seen

    assert asyncio.run(follow()) == [Delay(0.04, 0.004), Delay(0.005), Delay(0.005)]
