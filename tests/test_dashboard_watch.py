"""The dashboard's validator watch against real HTTP servers on 127.0.0.1 that answer
well, badly, hugely or slowly: what it keeps is checked, what it asks is bounded, and
no answer stops it from polling the others."""

import contextlib
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from miner.dashboard import watch
from miner.dashboard.watch import ValidatorWatch, is_report, node_info

INFO = {"head": 5, "synced": True, "strategy": "groups", "workers": 2, "dropped": {"gap": 1}}


def report(number: int) -> dict[str, Any]:
    return {
        "number": hex(number),
        "strategy": "groups",
        "groups": 1,
        "workers": 2,
        "transactions": 3,
        "speedupEstimate": 1.4,
        "phasesMs": {"execute": 2.0, "total": 3.0},
        "workerUtilisation": [0.9, 0.0],
        "cores": [0, 1],
        "spans": [
            {"worker": 0, "kind": "group", "id": 0, "startMs": 0.1, "endMs": 1.9, "cpuMs": 1.7}
        ],
    }


def answer_batch(
    body: list[dict[str, Any]], info: object = INFO, bad: Collection[int] = frozenset()
) -> list[dict[str, Any]]:
    out = []
    for request in body:
        if request["method"] == "pavm_nodeInfo":
            result = info
        else:
            number = int(request["params"][0], 16)
            result = {"number": hex(number), "spans": "no"} if number in bad else report(number)
        out.append({"jsonrpc": "2.0", "id": request["id"], "result": result})
    return out


Answer = Callable[[list[dict[str, Any]]], bytes]


@pytest.fixture
def servers() -> Iterator[Callable[[Answer], tuple[str, list[Any]]]]:
    """Start servers that answer each batch with ``answer(batch)``; each logs the
    batches it got."""
    started = []

    def serve(answer: Answer) -> tuple[str, list[Any]]:
        asked: list[Any] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                asked.append(body)
                data = answer(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the watch hung up on a too-large answer
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", asked

    yield serve
    for server in started:
        server.shutdown()
        server.server_close()


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def test_good_answers_are_kept_and_asking_stops_at_the_miners_head(servers):
    url, asked = servers(lambda body: _json(answer_batch(body, {**INFO, "head": 10**18})))
    miner_head = 40
    w = ValidatorWatch(lambda: {"v": url}, lambda: miner_head)
    w.seen["v"] = watch.Seen(url)
    w.poll("v")  # learns the head it claims
    assert w.seen["v"].error == "" and w.seen["v"].reports == {}
    w.poll("v")
    numbers = [int(r["params"][0], 16) for r in asked[-1] if r["method"] != "pavm_nodeInfo"]
    # At most REPORTS_PER_POLL of the newest blocks, never beyond the miner's head.
    assert numbers == list(range(miner_head - watch.REPORTS_PER_POLL + 1, miner_head + 1))
    assert list(w.seen["v"].reports) == numbers
    w.poll("v")
    assert [r["method"] for r in asked[-1]] == ["pavm_nodeInfo"]  # nothing asked twice


def test_malformed_huge_slow_and_mistyped_answers_mark_a_validator_unreachable(
    servers, monkeypatch
):
    monkeypatch.setattr(watch, "TIMEOUT", 0.5)
    good, _ = servers(lambda body: _json(answer_batch(body, bad={3})))

    def slowly(body: list[dict[str, Any]]) -> bytes:
        time.sleep(1.5)
        return _json(answer_batch(body))

    cases = {
        "not json": servers(lambda body: b"{not json")[0],
        "too large": servers(lambda body: b"[" + b" " * (watch.MAX_ANSWER + 10) + b"]")[0],
        "slow": servers(slowly)[0],
        "head is text": servers(lambda body: _json(answer_batch(body, {**INFO, "head": "5"})))[0],
        "not a list": servers(lambda body: _json({"result": INFO}))[0],
    }
    urls = {"good": good, **cases}
    w = ValidatorWatch(lambda: urls, lambda: 5, poll_every=0.1)
    w.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            seen = w.snapshot()
            if (
                len(seen) == len(urls)
                and all(seen[n].error for n in cases)
                and len(seen["good"].reports) == 4
            ):
                break
            time.sleep(0.1)
        seen = w.snapshot()
    finally:
        w.stop()
    for name in cases:
        assert seen[name].error and not seen[name].info, name
        assert not seen[name].reports, name
    assert "larger than" in seen["too large"].error
    assert seen["good"].error == "" and seen["good"].info["head"] == 5
    assert sorted(seen["good"].reports) == [1, 2, 4, 5]  # block 3's report was malformed


@pytest.mark.parametrize(
    "change",
    [
        {
            "spans": [
                {"worker": "0", "kind": "group", "id": 0, "startMs": 0, "endMs": 1, "cpuMs": 1}
            ]
        },
        {"speedupEstimate": "fast"},
        {"spans": [{"worker": 0, "kind": "<i>", "id": 0, "startMs": 0, "endMs": 1, "cpuMs": 1}]},
        {"strategy": ["groups"]},
        {"strategy": "<b>groups</b>"},
        {"workerUtilisation": [True]},
        {"number": "0x9"},
        {"phasesMs": {"execute": None}},
    ],
)
def test_a_report_of_another_shape_is_refused(change):
    assert is_report(report(4), 4)
    assert not is_report({**report(4), **change}, 4)


def test_node_info_keeps_only_checked_fields():
    assert node_info({**INFO, "extra": "<script>"}) == {**INFO, "rejected": {}}
    with pytest.raises(ValueError, match="workers"):
        node_info({**INFO, "workers": True})
    with pytest.raises(ValueError, match="strategy"):
        node_info({**INFO, "strategy": "<a href=x>groups</a>"})
    with pytest.raises(ValueError, match="dropped"):
        node_info({**INFO, "dropped": {"gap": "many"}})
