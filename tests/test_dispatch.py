"""The JSON-RPC dispatcher's batch limits: the response size is counted as it grows, so
a batch of heavy calls stops once past 25 MB instead of building the whole answer."""

import json
import time

from common.rpc import dispatch
from common.rpc.dispatch import MAX_BATCH_RESPONSE, Dispatcher


def test_a_batch_stops_working_once_its_answer_is_too_large():
    served = 0
    megabyte = "x" * 1_000_000

    def heavy(params: list[object]) -> str:
        nonlocal served
        served += 1
        return megabyte

    dispatcher = Dispatcher({"heavy": heavy})
    batch = [{"jsonrpc": "2.0", "id": i, "method": "heavy"} for i in range(60)]
    answers = json.loads(dispatcher.handle(json.dumps(batch).encode()) or b"")
    assert served <= MAX_BATCH_RESPONSE // 1_000_000 + 1  # not all 60 of them
    assert [a["id"] for a in answers] == list(range(60))
    assert all(a["error"] == {"code": -32003, "message": "response too large"} for a in answers)


def test_a_batch_under_the_limit_answers_each_call_in_order():
    dispatcher = Dispatcher({"echo": lambda params: params})
    batch = [{"jsonrpc": "2.0", "id": i, "method": "echo", "params": [i]} for i in range(5)]
    batch.insert(2, {"jsonrpc": "2.0", "method": "echo"})  # a notification: no answer
    answers = json.loads(dispatcher.handle(json.dumps(batch).encode()) or b"")
    assert [(a["id"], a["result"]) for a in answers] == [(i, [i]) for i in range(5)]


def test_a_batch_has_one_time_budget_for_all_its_calls(monkeypatch):
    """Each call has its own deadline; a batch of them must not add up without end."""
    monkeypatch.setattr(dispatch, "BATCH_TIME", 0.3)
    ran = []

    def slow(params: list[object]) -> int:
        ran.append(1)
        time.sleep(0.1)
        return len(ran)

    dispatcher = Dispatcher({"slow": slow})
    batch = [{"jsonrpc": "2.0", "id": i, "method": "slow"} for i in range(20)]
    answers = json.loads(dispatcher.handle(json.dumps(batch).encode()) or b"")
    assert [a["id"] for a in answers] == list(range(20))
    assert 2 <= len(ran) <= 5
    late = [a for a in answers if "error" in a]
    assert len(late) == 20 - len(ran)
    assert all(a["error"]["message"].startswith("batch ran out of time") for a in late)


def test_a_single_answer_is_capped_too(monkeypatch):
    monkeypatch.setattr(dispatch, "MAX_BATCH_RESPONSE", 1000)
    dispatcher = Dispatcher({"big": lambda params: "x" * 2000, "small": lambda params: "x"})
    request = {"jsonrpc": "2.0", "id": 7, "method": "big"}
    answer = json.loads(dispatcher.handle(json.dumps(request).encode()) or b"")
    assert answer == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32003, "message": "response too large"},
    }
    request["method"] = "small"
    assert json.loads(dispatcher.handle(json.dumps(request).encode()) or b"")["result"] == "x"


def test_a_method_with_a_limit_of_its_own_may_answer_more_alone(monkeypatch):
    """A block's receipts may pass the cap alone; in a batch they count toward it."""
    monkeypatch.setattr(dispatch, "MAX_BATCH_RESPONSE", 1000)
    methods = {"receipts": lambda params: "x" * 2000, "other": lambda params: "x" * 2000}
    dispatcher = Dispatcher(methods, limits={"receipts": 3000})
    request = {"jsonrpc": "2.0", "id": 7, "method": "receipts"}
    answer = json.loads(dispatcher.handle(json.dumps(request).encode()) or b"")
    assert answer["result"] == "x" * 2000
    request["method"] = "other"
    answer = json.loads(dispatcher.handle(json.dumps(request).encode()) or b"")
    assert answer["error"]["message"] == "response too large"
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "receipts"}]
    answers = json.loads(dispatcher.handle(json.dumps(batch).encode()) or b"")
    assert answers[0]["error"]["message"] == "response too large"
