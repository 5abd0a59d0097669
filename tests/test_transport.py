"""Block pushes: a peer that stops answering delays only itself, and a peer that falls
behind loses its oldest pushes, never the newest."""

import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common.net.transport import HttpFanout
from tests.services.helpers import wait_for


def _server(received: list[bytes], hold: threading.Event | None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            if hold is not None:
                hold.wait(30)
            received.append(body)
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _has(got: list[bytes], count: int) -> bool:
    return len(got) == count


def test_a_stuck_peer_delays_only_itself_and_keeps_only_the_newest_pushes():
    release = threading.Event()
    fast_got: list[bytes] = []
    stuck_got: list[bytes] = []
    fast, stuck = _server(fast_got, None), _server(stuck_got, release)
    urls = [f"http://127.0.0.1:{s.server_port}" for s in (stuck, fast)]
    fanout = HttpFanout(timeout=60, depth=2)
    try:
        # Every push reaches the answering peer while the stuck one holds its first.
        for n in range(12):
            fanout.send(urls, "/blocks", b"block %d" % n, "application/octet-stream")
            wait_for(partial(_has, fast_got, n + 1), timeout=20, what=f"push {n} arrives")
        assert fast_got == [b"block %d" % n for n in range(12)]
        assert stuck_got == []
        release.set()
        wait_for(lambda: len(stuck_got) == 3, timeout=20, what="the stuck peer's pushes")
        assert stuck_got == [b"block 0", b"block 10", b"block 11"]
        assert fanout.dropped == 9
    finally:
        release.set()
        fanout.close()
        fast.shutdown()
        stuck.shutdown()
