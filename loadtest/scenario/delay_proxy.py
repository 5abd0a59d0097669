"""A TCP proxy that delays what passes through it: a scenario's link latency and jitter.

The kernels pavm-net runs on may lack the ``netem`` qdisc (bandwidth and loss are
shaped with ``tbf`` and iptables' ``statistic`` match instead), so latency is added
in user space, the way toxiproxy does: every chunk read from one side is written to
the other ``latency ± jitter`` after it arrived, never before the chunk ahead of it
(a TCP stream stays in order, so jitter only ever stretches gaps).

Bounded as every port is: at most ``MAX_CONNECTIONS`` at once, and a direction stops
reading while ``MAX_IN_FLIGHT`` bytes wait to be written, so a fast sender meets TCP
back-pressure instead of filling memory.

*Transparent* (``--transparent``), the way ``pavm scenario run`` uses it inside a
node's container: iptables REDIRECTs the node's TCP connections, outgoing and
incoming, to the proxy, which reads each one's original destination
(``SO_ORIGINAL_DST``) and connects there with its own packets marked (``SO_MARK``
:data:`MARK`, which the REDIRECT rules let pass), so every byte to and from the node
waits out its link's latency once. ``--settings FILE`` is re-read every second, so a
``slow-link`` fault changes the delay without cutting a connection.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import random
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

MAX_CONNECTIONS = 512
MAX_IN_FLIGHT = 4 * 1024 * 1024
"""Bytes one direction of one connection holds while they wait out the delay."""
CHUNK = 64 * 1024
CONNECT_TIMEOUT_S = 5.0
"""A destination that does not answer (cut off, gone) fails the connection this soon
instead of holding a slot for the kernel's two minutes of SYN retries."""
MARK = 0x70A
"""The firewall mark of the transparent proxy's own connections."""
SO_ORIGINAL_DST = 80
"""``linux/netfilter_ipv4.h``: where a REDIRECTed connection was going."""
log = logging.getLogger("pavm.delay_proxy")


@dataclass(frozen=True)
class Delay:
    latency_s: float
    jitter_s: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_s < 0 or not 0 <= self.jitter_s <= self.latency_s:
            raise ValueError("need latency >= 0 and 0 <= jitter <= latency")

    def sample(self, rng: random.Random) -> float:
        return self.latency_s + rng.uniform(-self.jitter_s, self.jitter_s)


class DelayProxy:
    """Listens on ``host:port`` and forwards each connection to ``upstream``, or, with
    ``upstream`` ``None``, to where it was going before iptables redirected it."""

    def __init__(
        self, upstream: tuple[str, int] | None, delay: Delay, seed: int | None = None
    ) -> None:
        self.upstream = upstream
        self.delay = delay
        """Read per chunk: a new value applies to the bytes read from then on."""
        self.listening: tuple[str, int] | None = None
        self.rng = random.Random(seed)
        self.open = 0
        self.refused = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Start listening; the port listened on (``port`` 0 picks a free one)."""
        self._server = await asyncio.start_server(self._serve, host, port)
        self.listening = self._server.sockets[0].getsockname()[:2]
        return int(self.listening[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= MAX_CONNECTIONS:
            self.refused += 1
            writer.close()
            return
        self.open += 1
        try:
            up_reader, up_writer = await self._connect(writer.get_extra_info("socket"))
        except OSError as exc:
            log.warning("upstream: %s", exc)
            self.open -= 1
            writer.close()
            return
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
        finally:
            self.open -= 1
            for end in (writer, up_writer):
                end.close()

    async def _connect(
        self, accepted: socket.socket
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream is not None:
            return await asyncio.wait_for(
                asyncio.open_connection(*self.upstream), CONNECT_TIMEOUT_S
            )
        target = original_destination(accepted)
        if target == accepted.getsockname()[:2]:
            raise OSError(f"{target[0]}:{target[1]} is this proxy: not redirected")
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            upstream.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
            upstream.setblocking(False)
            connect = asyncio.get_running_loop().sock_connect(upstream, target)
            await asyncio.wait_for(connect, CONNECT_TIMEOUT_S)
        except BaseException:
            upstream.close()
            raise
        return await asyncio.open_connection(sock=upstream)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy ``reader`` to ``writer``, each chunk delayed, in order."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        room = asyncio.Semaphore(MAX_IN_FLIGHT // CHUNK)

        async def deliver() -> None:
            broken = False
            while (item := await queue.get()) is not None:
                due, data = item
                if not broken:
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    try:
                        writer.write(data)
                        await writer.drain()
                    except OSError:
                        broken = True  # the far side went: stop reading this side
                        reader.feed_eof()
                room.release()
            if not broken:
                with contextlib.suppress(OSError):
                    writer.write_eof()

        sender = asyncio.create_task(deliver())
        last_due = 0.0
        try:
            while data := await reader.read(CHUNK):
                await room.acquire()
                last_due = max(last_due, time.monotonic() + self.delay.sample(self.rng))
                queue.put_nowait((last_due, data))
        except OSError:
            pass
        finally:
            queue.put_nowait(None)
            await sender


def original_destination(accepted: socket.socket) -> tuple[str, int]:
    """Where a connection REDIRECTed to this proxy was going (IPv4)."""
    raw = accepted.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    (port,) = struct.unpack_from("!H", raw, 2)
    return socket.inet_ntoa(raw[4:8]), port


def read_settings(path: Path) -> Delay:
    """``{"latency_ms": .., "jitter_ms": ..}`` from ``path``."""
    data = json.loads(path.read_text())
    return Delay(float(data["latency_ms"]) / 1000, float(data.get("jitter_ms", 0)) / 1000)


async def _follow(proxy: DelayProxy, path: Path) -> None:
    """Apply ``path``'s delay whenever the file changes; a bad file keeps the last."""
    seen = None
    while True:
        with contextlib.suppress(OSError):
            stamp = path.stat().st_mtime_ns
            if stamp != seen:
                seen = stamp
                try:
                    proxy.delay = read_settings(path)
                    log.info("delay now %s", proxy.delay)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("%s: %s; keeping %s", path, exc, proxy.delay)
        await asyncio.sleep(1.0)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.scenario.delay_proxy",
        description="Forward TCP connections with added latency and jitter (one link "
        "of a scenario; bandwidth and loss are shaped in the kernel).",
    )
    parser.add_argument("--listen", type=_address, required=True, help="HOST:PORT to accept on")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--upstream", type=_address, help="HOST:PORT to reach")
    where.add_argument(
        "--transparent",
        action="store_true",
        help="reach each connection's original destination (iptables REDIRECT to --listen)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added one way")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="± this, at most latency")
    parser.add_argument(
        "--settings",
        type=Path,
        help='JSON {"latency_ms": .., "jitter_ms": ..}, re-read every second (overrides '
        "the two options above)",
    )
    parser.add_argument("--ready-file", type=Path, help="written once listening")
    args = parser.parse_args(argv)
    try:
        delay = Delay(args.latency_ms / 1000, args.jitter_ms / 1000)
        if args.settings is not None and args.settings.exists():
            delay = read_settings(args.settings)
    except (ValueError, KeyError, TypeError) as exc:
        parser.error(str(exc))
    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s %(message)s")

    async def run() -> None:
        proxy = DelayProxy(args.upstream, delay)
        port = await proxy.start(*args.listen)
        log.info("%s:%d -> %s, %s", args.listen[0], port, args.upstream or "transparent", delay)
        if args.ready_file is not None:
            args.ready_file.write_text(f"{port}\n")
        if args.settings is not None:
            await _follow(proxy, args.settings)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
