"""The JSON-RPC dispatcher's batch limits: the response size is counted as it grows, so
a batch of heavy calls stops once past 25 MB instead of building the whole answer."""

import json

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
