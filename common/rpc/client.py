"""A JSON-RPC 2.0 client over HTTP: how every caller talks to a node.

The validator asks the miner for its head with it, and the launchers, status views,
load tools and benchmarks drive a testnet with it, so one place decides what a
node's answer means: a ``result`` is returned, an error object (or an answer that is
no JSON-RPC response at all) raises :class:`NodeError`. Failures of the connection
itself stay :class:`httpx.HTTPError`, which callers that poll treat as "not reachable
yet".
"""

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx

from common.encoding.untrusted import load_json
from common.errors import PavmError


class NodeError(PavmError):
    """Thrown when a node answers a call with a JSON-RPC error object or with something
    that is no JSON-RPC response; ``code`` is the node's error code (None for the latter)."""

    def __init__(self, url: str, method: str, message: str, code: int | None = None) -> None:
        super().__init__(f"{method} on {url}: {message}")
        self.method = method
        self.message = message
        self.code = code


def _request(method: str, params: Sequence[Any], request_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}


class RpcClient:
    """A connection to one node's ``POST /`` endpoint (reused across calls)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self._http = httpx.Client(timeout=timeout)

    def __enter__(self) -> "RpcClient":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One call's ``result``."""
        return self._result(method, self._post(_request(method, params)))

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; their results in order. The first error
        answered raises, naming that call's method."""
        if not calls:
            return []
        body = [_request(method, params, i) for i, (method, params) in enumerate(calls)]
        answers = self._post(body)
        if not isinstance(answers, list) or len(answers) != len(calls):
            raise NodeError(self.url, "batch", f"expected {len(calls)} answers, got {answers!r}")
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [self._result(calls[i][0], by_id.get(i)) for i in range(len(calls))]

    def _post(self, body: Any) -> Any:
        response = self._http.post(self.url, json=body)
        try:
            return load_json(response.content)
        except ValueError:
            raise NodeError(
                self.url, "POST", f"HTTP {response.status_code}, not JSON: {response.text[:200]!r}"
            ) from None

    def _result(self, method: str, answer: Any) -> Any:
        if not isinstance(answer, dict):
            raise NodeError(self.url, method, f"no JSON-RPC answer: {answer!r}"[:300])
        error = answer.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            raise NodeError(
                self.url,
                method,
                str(error.get("message")),
                code if isinstance(code, int) else None,
            )
        if "result" not in answer:
            raise NodeError(self.url, method, f"no result in {answer!r}"[:300])
        return answer["result"]


def call(url: str, method: str, params: Sequence[Any] = (), timeout: float = 5.0) -> Any:
    """One call on a fresh connection, for callers that make one now and then."""
    with RpcClient(url, timeout) as client:
        return client.call(method, params)
