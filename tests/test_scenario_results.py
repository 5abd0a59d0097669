"""A scenario's numbers from collected data: percentiles, throughput bins, latency
and propagation per link class, what each fault did, and the two checks."""

from typing import Any

from loadtest.scenario.links import Shape
from loadtest.scenario.observe import Sample
from loadtest.scenario.results import Collected, percentiles, results
from loadtest.scenario.spec import Scenario

ORIGIN = 1000.0
V = ["validator-1", "validator-2"]


def _times(number: int, via: str, at: float, verdict: float) -> dict[str, Any]:
    return {"number": hex(number), "via": via, "at": at, "verdictAt": verdict, "accepted": True}


def _data(**changes) -> Collected:
    plan = Scenario.model_validate(
        {
            "name": "t",
            "network": {"validators": 2},
            "load": {"duration_s": 10},
            "timeline": [{"at": 2, "action": "kill", "nodes": ["validator-2"]}],
        }
    )
    sealed = {1: ORIGIN + 1.0, 2: ORIGIN + 3.0, 3: ORIGIN + 5.0}
    fields: dict[str, Any] = {
        "plan": plan,
        "origin": ORIGIN,
        "events": [{"at": 2, "t": 2.0, "action": "kill", "nodes": ["validator-2"]}],
        "samples": [
            Sample(1.0, 1, {"validator-1": 1, "validator-2": 1}),
            Sample(2.5, 1, {"validator-1": 1, "validator-2": None}),  # seen 0.5 s after
            Sample(4.0, 2, {"validator-1": 2, "validator-2": 1}),
            Sample(6.0, 3, {"validator-1": 3, "validator-2": 3}),  # back 4 s after
        ],
        "sealed": sealed,
        "transactions": {1: ["0xa"], 2: ["0xb", "0xc"], 3: []},
        "sent": ["0xa", "0xb", "0xc"],
        "sent_at": [ORIGIN + 0.5, ORIGIN + 2.0, ORIGIN + 2.5],
        "arrivals": {
            "validator-1": [
                _times(1, "push", ORIGIN + 1.1, ORIGIN + 1.2),
                _times(2, "redis", ORIGIN + 3.1, ORIGIN + 3.3),
                _times(3, "push", ORIGIN + 5.1, ORIGIN + 5.4),
            ],
            "validator-2": [
                _times(1, "push", ORIGIN + 1.3, ORIGIN + 1.5),
                _times(2, "fetch", ORIGIN + 5.5, ORIGIN + 5.6),
                _times(3, "push", ORIGIN + 5.3, ORIGIN + 5.7),
            ],
        },
        "verdicts": {n: {"validator-1": True, "validator-2": True} for n in (1, 2, 3)},
        "history": {
            "validator-1": [(float("-inf"), Shape())],
            "validator-2": [(float("-inf"), Shape(latency_ms=100))],
        },
        "roots": {"miner": (3, "0xr"), "validator-1": (3, "0xr"), "validator-2": (3, "0xr")},
        "height": 3,
    }
    fields.update(changes)
    return Collected(**fields)


def test_percentiles_are_nearest_rank():
    p = percentiles([float(v) for v in range(1, 101)])
    assert (p["count"], p["p50"], p["p95"], p["p99"], p["max"]) == (100, 50.0, 95.0, 99.0, 100.0)
    assert percentiles([])["count"] == 0


def test_latency_and_propagation_per_link_class():
    out = results(_data())
    assert out["send_to_inclusion_ms"]["count"] == 3
    assert out["send_to_inclusion_ms"]["max"] == 1000.0  # 0xb: sent at 2.0, sealed at 3.0
    assert out["inclusion_to_verdict_ms"]["validator-1"]["max"] == 400.0
    assert list(out["inclusion_to_verdict_ms"]) == V
    classes = out["propagation_ms"]
    assert classes["perfect"]["count"] == 3 and classes["perfect"]["max"] == 100.0
    assert classes["100 ms"]["count"] == 2  # the fetched block is counted apart
    assert classes["100 ms"]["fetched"] == 1
    assert out["throughput"]["mined_tps"][:3] == [0.5, 1.0, 0.0]
    assert out["throughput"]["sent_tps"][:2] == [0.5, 1.0]


def test_a_fault_is_seen_and_recovered_from_with_what_was_refetched():
    (row,) = results(_data())["faults"]
    assert row["detected_after_s"] == 0.5
    assert row["back_at_head_after_s"] == 4.0
    assert row["refetched"] == 1
    assert row["verdicts_missing"] == 0
    missing = _data(verdicts={1: {"validator-1": True}, 2: {"validator-1": True}, 3: {}})
    (row,) = results(missing)["faults"]
    assert row["verdicts_missing"] == 3  # blocks 2 and 3, sealed in the fault's window
    assert results(missing)["checks"]["verdicts"]["missing"] == 4


def test_a_fault_never_seen_has_no_recovery():
    calm = [Sample(t, 1, {"validator-1": 1, "validator-2": 1}) for t in (1.0, 3.0, 5.0)]
    (row,) = results(_data(samples=calm))["faults"]
    assert row["detected_after_s"] is None and row["back_at_head_after_s"] is None


def test_the_checks_fail_on_a_lost_transaction_or_a_differing_root():
    out = results(_data())["checks"]
    assert out["acknowledged_mined"]["ok"] and out["state_roots_equal"]["ok"]
    lost = results(_data(sent=["0xa", "0xb", "0xc", "0xd"], sent_at=[ORIGIN] * 4))["checks"]
    assert not lost["acknowledged_mined"]["ok"]
    assert lost["acknowledged_mined"]["missing"] == ["0xd"]
    forked = _data(
        roots={"miner": (3, "0xr"), "validator-1": (3, "0xs"), "validator-2": (3, "0xr")}
    )
    assert not results(forked)["checks"]["state_roots_equal"]["ok"]
    unanswered = _data(roots={"miner": (3, "0xr"), "validator-1": (None, None)})
    assert not results(unanswered)["checks"]["state_roots_equal"]["ok"]
    stuck = _data(roots={"miner": (5, "0xr"), "validator-1": (3, "0xr"), "validator-2": (5, "0xr")})
    assert not results(stuck)["checks"]["state_roots_equal"]["ok"]  # one node behind


def test_a_sent_file_without_send_times_still_gives_the_rest():
    out = results(_data(sent_at=[]))
    assert out["send_to_inclusion_ms"]["count"] == 0
    assert out["checks"]["acknowledged_mined"]["ok"]
