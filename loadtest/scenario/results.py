"""A scenario's numbers, from what the run collected: throughput over time, latency
from send to inclusion and from inclusion to each validator's verdict, block
propagation per link class, what each fault did, and the two checks that must
always hold (every acknowledged transaction mined; every validator's state root
equal at the end). Pure functions of the collected data, so they are tested without
a network.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from loadtest.scenario.links import Shape
from loadtest.scenario.observe import Sample
from loadtest.scenario.spec import Scenario

BIN_S = 2.0
"""Width of a throughput bin."""
BEHIND = 2
"""A validator this many blocks behind the miner (or not answering) shows a fault."""
ENDS = {"heal", "start-redis", "unpause"}
"""Events that end a fault: they are not detected, only recovered from."""


@dataclass
class Collected:
    """Everything a run gathered, in the units it was gathered in."""

    plan: Scenario
    origin: float
    """Epoch seconds when the load started; every ``t`` is relative to it."""
    events: list[dict[str, Any]]
    """The timeline as played: ``at`` (planned), ``t`` (done), ``action``, ``nodes``."""
    samples: list[Sample]
    sealed: dict[int, float]
    """Block number -> epoch seconds the miner sealed it."""
    transactions: dict[int, list[str]]
    """Block number -> its transaction hashes (the run's blocks)."""
    sent: list[str]
    sent_at: list[float]
    arrivals: dict[str, list[dict[str, Any]]]
    """Validator (scenario name) -> its ``pavm_getBlockTimes`` entries."""
    verdicts: dict[int, dict[str, bool]]
    """Block number -> validator (scenario name) -> agreed."""
    history: dict[str, list[tuple[float, Shape]]] = field(default_factory=dict)
    """Validator -> (t, shape from then on), for the link class of each arrival."""
    roots: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)
    """Node -> (its head at the end, its state root at the common height)."""
    height: int | None = None
    """The height every node's root was read at."""


def percentiles(values: list[float]) -> dict[str, float | int]:
    """p50/p95/p99/max (nearest rank) and the count; zeros for no values."""
    if not values:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)

    return {
        "count": len(ordered),
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": round(ordered[-1], 1),
    }


def results(data: Collected) -> dict[str, Any]:
    return {
        "throughput": throughput(data),
        "send_to_inclusion_ms": percentiles(send_to_inclusion(data)),
        "inclusion_to_verdict_ms": {
            name: percentiles(values) for name, values in inclusion_to_verdict(data).items()
        },
        "propagation_ms": propagation(data),
        "faults": faults(data),
        "checks": checks(data),
    }


def throughput(data: Collected) -> dict[str, Any]:
    """Mined and sent transactions per second in :data:`BIN_S` bins of run time."""
    mined = [
        (data.sealed[n] - data.origin, len(h))
        for n, h in data.transactions.items()
        if n in data.sealed
    ]
    sent = [at - data.origin for at in data.sent_at]
    end = max([t for t, _ in mined] + sent + [data.plan.load.duration_s])
    bins = int(end // BIN_S) + 1
    mined_bins = [0.0] * bins
    sent_bins = [0.0] * bins
    for t, count in mined:
        if t >= 0:
            mined_bins[int(t // BIN_S)] += count / BIN_S
    for t in sent:
        if t >= 0:
            sent_bins[int(t // BIN_S)] += 1 / BIN_S
    total = sum(count for _, count in mined)
    span = max((t for t, _ in mined), default=0.0)
    return {
        "bin_s": BIN_S,
        "t": [round(i * BIN_S, 1) for i in range(bins)],
        "mined_tps": [round(v, 2) for v in mined_bins],
        "sent_tps": [round(v, 2) for v in sent_bins],
        "mean_tps": round(total / span, 2) if span > 0 else 0.0,
        "blocks": len(mined),
    }


def send_to_inclusion(data: Collected) -> list[float]:
    block_of = {h: n for n, hashes in data.transactions.items() for h in hashes}
    out = []
    if len(data.sent_at) != len(data.sent):
        return []  # a sent.json without send times (an older locustfile)
    for tx_hash, at in zip(data.sent, data.sent_at, strict=True):
        number = block_of.get(tx_hash)
        if number is not None and number in data.sealed:
            out.append((data.sealed[number] - at) * 1000)
    return out


def inclusion_to_verdict(data: Collected) -> dict[str, list[float]]:
    return {
        name: [
            (entry["verdictAt"] - data.sealed[int(entry["number"], 16)]) * 1000
            for entry in entries
            if "verdictAt" in entry and int(entry["number"], 16) in data.sealed
        ]
        for name, entries in sorted(data.arrivals.items(), key=lambda kv: _order(kv[0]))
    }


def link_class(data: Collected, validator: str, t: float) -> str:
    """The link a validator had at run time ``t``, in words."""
    shape = Shape()
    for since, then in data.history.get(validator, []):
        if since <= t:
            shape = then
    return shape.describe()


def propagation(data: Collected) -> dict[str, Any]:
    """Miner seal to a validator's first copy, per link class, over blocks that came
    by push or Redis (a fetched block filled a gap: its delay is the gap's, counted
    under ``fetched``)."""
    classes: dict[str, list[float]] = {}
    fetched: dict[str, int] = {}
    for name, entries in data.arrivals.items():
        for entry in entries:
            number = int(entry["number"], 16)
            if number not in data.sealed:
                continue
            sealed = data.sealed[number]
            kind = link_class(data, name, sealed - data.origin)
            if entry["via"] == "fetch":
                fetched[kind] = fetched.get(kind, 0) + 1
                continue
            classes.setdefault(kind, []).append((entry["at"] - sealed) * 1000)
    return {
        kind: {**percentiles(values), "fetched": fetched.get(kind, 0)}
        for kind, values in sorted(classes.items())
    } | {
        kind: {**percentiles([]), "fetched": n}
        for kind, n in fetched.items()
        if kind not in classes
    }


def _targets(data: Collected, event: dict[str, Any]) -> list[str]:
    validators = data.plan.nodes("validators")
    hit = [n for n in event.get("nodes") or [] if n.startswith("validator-")]
    if event["action"] == "stop-redis" or not hit or len(hit) < len(event.get("nodes") or []):
        return validators  # Redis, the miner, or everyone: every validator may show it
    return hit


def faults(data: Collected) -> list[dict[str, Any]]:
    """Per event: seconds until it was first seen (a hit validator not answering or
    :data:`BEHIND` blocks behind), seconds until every validator was back at the
    miner's head, blocks the validators fetched to fill gaps meanwhile, and verdicts
    still missing at the end on blocks sealed meanwhile."""
    rows = []
    final = data.samples[-1].t if data.samples else 0.0
    for event in data.events:
        t = event["t"]
        after = [s for s in data.samples if s.t >= t]
        detected = None
        if event["action"] not in ENDS:
            targets = _targets(data, event)
            seen = next((s for s in after if s.off_head(targets, BEHIND)), None)
            detected = None if seen is None else seen.t
        recovered = None
        if detected is not None or event["action"] in ENDS:
            since = detected if detected is not None else t
            back = next(
                (s for s in after if s.t >= since and s.at_head() == len(s.validators)), None
            )
            recovered = None if back is None else back.t
        until = recovered if recovered is not None else final
        refetched = sum(
            1
            for entries in data.arrivals.values()
            for e in entries
            if e["via"] == "fetch" and t <= e["at"] - data.origin <= until
        )
        missing = sum(
            1
            for number, at in data.sealed.items()
            if t <= at - data.origin <= until and number in data.transactions
            for name in data.plan.nodes("validators")
            if name not in data.verdicts.get(number, {})
        )
        rows.append(
            {
                "at": event["at"],
                "t": round(t, 2),
                "action": event["action"],
                "nodes": event.get("nodes") or [],
                "detected_after_s": None if detected is None else round(detected - t, 2),
                "back_at_head_after_s": None if recovered is None else round(recovered - t, 2),
                "refetched": refetched,
                "verdicts_missing": missing,
            }
        )
    return rows


def checks(data: Collected) -> dict[str, Any]:
    mined = {h for hashes in data.transactions.values() for h in hashes}
    lost = [h for h in data.sent if h not in mined]
    roots = {name: root for name, (_, root) in data.roots.items()}
    distinct = set(roots.values())
    validators = data.plan.nodes("validators")
    agreeing = sum(
        1 for per in data.verdicts.values() for name in validators if per.get(name) is True
    )
    expected = len(data.transactions) * len(validators)
    return {
        "acknowledged_mined": {
            "sent": len(data.sent),
            "mined": len(data.sent) - len(lost),
            "missing": lost[:20],
            "ok": not lost,
        },
        "state_roots_equal": {
            "height": data.height,
            "roots": roots,
            "heads": {name: head for name, (head, _) in data.roots.items()},
            # Equal roots at one height, and every node at that height: a node stuck
            # behind the others would otherwise pass at its own, lower head.
            "ok": data.height is not None
            and len(distinct) == 1
            and None not in distinct
            and all(head == data.height for head, _ in data.roots.values()),
        },
        "verdicts": {
            "expected": expected,
            "agree": agreeing,
            "reject": sum(
                1 for per in data.verdicts.values() for name in validators if per.get(name) is False
            ),
            "missing": expected
            - sum(
                1
                for n in data.transactions
                for name in validators
                if name in data.verdicts.get(n, {})
            ),
        },
    }


def _order(name: str) -> tuple[int, str]:
    tail = name.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 0, name)
