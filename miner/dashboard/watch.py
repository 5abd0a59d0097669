"""What the miner's validators say about themselves, polled for the dashboard.

Each member that registered a URL is asked, over its own JSON-RPC, for
``pavm_nodeInfo`` and the ``pavm_getValidationReport`` of the blocks it validated
since the last poll: the validators stay the one source of how they validated
(docs/architecture.md, invariant 11). Answers are bounded in size and time; a
validator that does not answer is shown as unreachable, never waited for.
"""

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from common.encoding.untrusted import load_json

log = logging.getLogger("pavm.dashboard")
STRATEGY_NAME = re.compile(r"[a-z_]{1,32}")
"""What a validator's strategy may be called here: the page writes it into chart
texts, which Plotly reads as HTML (the names themselves are the validator's)."""

POLL_EVERY = 1.0
"""Seconds between two polls of every validator."""
TIMEOUT = 2.0
"""Seconds one validator has to answer a poll."""
MAX_ANSWER = 4 * 1024 * 1024
"""Bytes of one validator's answer to a poll (a report of a 1,000-transaction block
is about 100 kB)."""
REPORTS_PER_POLL = 16
"""Validation reports asked of one validator per poll."""
KEEP = 64
"""Reports kept per validator: the most recent blocks."""
PARALLEL = 8
"""Validators polled at once."""


@dataclass
class Seen:
    """The latest a validator said."""

    url: str
    info: dict[str, Any] = field(default_factory=dict)
    reports: "OrderedDict[int, dict[str, Any]]" = field(default_factory=OrderedDict)
    error: str = ""
    """Why the last poll failed; empty when it succeeded."""
    answered: float = 0.0
    """``time.time()`` of the last answer."""
    asked_up_to: int = 0
    """The highest block whose report was asked for."""


class ValidatorWatch:
    """Polls every member validator with a URL, ``POLL_EVERY`` seconds, in a thread."""

    def __init__(
        self,
        urls: Callable[[], dict[str, str]],
        head: Callable[[], int],
        poll_every: float = POLL_EVERY,
    ) -> None:
        self.urls = urls
        """Member name → the URL it registered."""
        self.head = head
        """The miner's head: no validator is asked about a block beyond it."""
        self.poll_every = poll_every
        self.seen: dict[str, Seen] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=TIMEOUT)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pavm-dashboard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(TIMEOUT * 3)
        self._http.close()

    def snapshot(self) -> dict[str, Seen]:
        """A copy of what every validator said (reports shared: they never change)."""
        with self._lock:
            return {
                name: Seen(s.url, dict(s.info), OrderedDict(s.reports), s.error, s.answered)
                for name, s in self.seen.items()
            }

    def report(self, name: str, number: int) -> dict[str, Any] | None:
        with self._lock:
            seen = self.seen.get(name)
            return None if seen is None else seen.reports.get(number)

    def _run(self) -> None:
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="pavm-dashboard-poll") as pool:
            while not self._stop.is_set():
                started = time.monotonic()
                urls = self.urls()
                with self._lock:
                    for name in set(self.seen) - set(urls):
                        del self.seen[name]
                    for name, url in urls.items():
                        if name not in self.seen or self.seen[name].url != url:
                            self.seen[name] = Seen(url)
                list(pool.map(self.poll, urls))
                self._stop.wait(max(0.0, self.poll_every - (time.monotonic() - started)))

    def poll(self, name: str) -> None:
        """Ask validator ``name`` for its info and its newest reports; never raises."""
        with self._lock:
            seen = self.seen.get(name)
            if seen is None:
                return
            url, head = seen.url, min(seen.info.get("head", 0), self.head())
            first = max(seen.asked_up_to + 1, head - REPORTS_PER_POLL + 1, 1)
        wanted = list(range(first, head + 1))
        body = [{"jsonrpc": "2.0", "id": 0, "method": "pavm_nodeInfo", "params": []}]
        body += [
            {
                "jsonrpc": "2.0",
                "id": i + 1,
                "method": "pavm_getValidationReport",
                "params": [hex(n)],
            }
            for i, n in enumerate(wanted)
        ]
        try:
            answers = self._ask(url, body)
            info = node_info(answers.get(0))
        except (httpx.HTTPError, ValueError) as exc:
            with self._lock:
                if name in self.seen:
                    self.seen[name].error = str(exc) or type(exc).__name__
            return
        with self._lock:
            seen = self.seen.get(name)
            if seen is None:
                return
            seen.info, seen.error, seen.answered = info, "", time.time()
            for i, number in enumerate(wanted):
                report = answers.get(i + 1)
                if report is not None and is_report(report, number):
                    seen.reports[number] = report
            if wanted:
                seen.asked_up_to = wanted[-1]
            while len(seen.reports) > KEEP:
                seen.reports.popitem(last=False)

    def _ask(self, url: str, body: list[dict[str, Any]]) -> dict[int, Any]:
        """The results of a batch by request id; ``ValueError`` for an answer too
        large, malformed or late."""
        deadline = time.monotonic() + TIMEOUT
        data = bytearray()
        with self._http.stream("POST", url.rstrip("/") + "/", json=body) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_ANSWER:
                    raise ValueError(f"answer larger than {MAX_ANSWER} bytes")
                if time.monotonic() > deadline:
                    raise ValueError(f"answer took longer than {TIMEOUT} s")
        answers = load_json(bytes(data))
        if not isinstance(answers, list):
            raise ValueError("a batch was not answered with a list")
        return {
            a["id"]: a.get("result")
            for a in answers
            if isinstance(a, dict) and isinstance(a.get("id"), int)
        }


SPAN_KINDS = ("group", "tx", "subcalls")
"""What a worker's span may be (``validator/worker.py``'s ``Span``)."""
_INFO = {"head": int, "synced": bool, "strategy": str, "workers": int}
_COUNTS = ("rejected", "dropped")


def node_info(info: Any) -> dict[str, Any]:
    """The fields of a validator's ``pavm_nodeInfo`` the dashboard shows, checked;
    ``ValueError`` when one is missing or of another type (the page relies on them).
    Texts that charts draw are one of a known few: Plotly reads some HTML in them."""
    if not isinstance(info, dict):
        raise ValueError("pavm_nodeInfo answered no object")
    kept: dict[str, Any] = {}
    for key, kind in _INFO.items():
        value = info.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"pavm_nodeInfo's {key} is not a {kind.__name__}")
        kept[key] = value
    if not STRATEGY_NAME.fullmatch(kept["strategy"]):
        raise ValueError(f"pavm_nodeInfo's strategy {kept['strategy'][:40]!r} is no name")
    for key in _COUNTS:
        counts = info.get(key, {})
        if not isinstance(counts, dict) or not all(
            isinstance(k, str) and _is_int(v) for k, v in counts.items()
        ):
            raise ValueError(f"pavm_nodeInfo's {key} is not a table of counts")
        kept[key] = counts
    return kept


def is_report(report: Any, number: int) -> bool:
    """Whether ``report`` is a ``pavm_getValidationReport`` of block ``number`` in the
    shape the page draws (types checked, so no answer can break the page)."""
    if not isinstance(report, dict) or report.get("number") != hex(number):
        return False
    spans, cores = report.get("spans"), report.get("cores")
    phases, usage = report.get("phasesMs"), report.get("workerUtilisation")
    return (
        isinstance(report.get("strategy"), str)
        and STRATEGY_NAME.fullmatch(report["strategy"]) is not None
        and all(_is_int(report.get(k)) for k in ("groups", "workers", "transactions"))
        and _is_number(report.get("speedupEstimate"))
        and isinstance(phases, dict)
        and all(_is_number(v) for v in phases.values())
        and isinstance(usage, list)
        and all(_is_number(v) for v in usage)
        and isinstance(cores, list)
        and all(c is None or _is_int(c) for c in cores)
        and isinstance(spans, list)
        and all(_is_span(s) for s in spans)
    )


def _is_span(span: Any) -> bool:
    return (
        isinstance(span, dict)
        and _is_int(span.get("worker"))
        and _is_int(span.get("id"))
        and span.get("kind") in SPAN_KINDS
        and all(_is_number(span.get(k)) for k in ("startMs", "endMs", "cpuMs"))
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
