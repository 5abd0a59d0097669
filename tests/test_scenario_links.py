"""Which link each node has at a moment of a scenario, and the kernel rules that make
it so: later entries and slow-link faults win, a partition drops both ways, a
bandwidth limit holds towards a limited peer, the host is never shaped, and a
script can be run again (it empties its own chains first)."""

import pytest

from loadtest.scenario.links import PROXY_PORT, Peer, Shape, node_script, shapes
from loadtest.scenario.spec import Scenario

GATEWAY = "172.30.0.1"


def _plan(**fields) -> Scenario:
    return Scenario.model_validate({"name": "t", "network": {"validators": 3}, **fields})


def test_the_last_entry_naming_a_node_wins_and_overrides_win_over_both():
    plan = _plan(
        groups={"far": ["validator-2", "validator-3"]},
        links=[
            {"nodes": "validators", "latency_ms": 10},
            {"nodes": ["far"], "loss_pct": 2},
        ],
    )
    now = shapes(plan, {"validator-3": Shape(bandwidth_mbit=5)})
    assert now["miner"] == Shape() and now["redis"] == Shape()
    assert now["validator-1"] == Shape(latency_ms=10)
    assert now["validator-2"] == Shape(loss_pct=2)
    assert now["validator-3"] == Shape(bandwidth_mbit=5)
    assert now["validator-2"].describe() == "2 % loss"
    assert Shape(latency_ms=100, jitter_ms=10).describe() == "100 ms ± 10"


def test_a_partition_drops_both_ways_and_only_the_cut_peers():
    script = node_script(
        Shape(),
        [Peer("172.30.0.5", Shape(), True), Peer("172.30.0.6", Shape(), False)],
        GATEWAY,
        proxy=False,
    )
    assert "iptables -A PAVM-IN -s 172.30.0.5 -j DROP" in script
    assert "iptables -A PAVM-OUT -d 172.30.0.5 -j DROP" in script
    assert "--ctorigdst 172.30.0.5 -j DROP" in script  # also past the delay proxy
    assert "172.30.0.6" not in script
    assert "REDIRECT --to-ports" not in script and "htb" not in script


def test_loss_spares_the_host_and_latency_goes_through_the_proxy():
    script = node_script(Shape(latency_ms=50, loss_pct=1), [], GATEWAY, proxy=True, reset=True)
    assert f"! -s {GATEWAY} -m statistic --mode random --probability 0.010000 -j DROP" in script
    assert f"! -d {GATEWAY} -m statistic --mode random --probability 0.010000 -j DROP" in script
    assert f"-d {GATEWAY} -j RETURN" in script and f"-s {GATEWAY} -j RETURN" in script
    assert f"REDIRECT --to-ports {PROXY_PORT}" in script
    assert '"latency_ms": 50' in script
    assert "ss -K" in script
    with pytest.raises(ValueError, match="proxy"):
        node_script(Shape(latency_ms=50), [], GATEWAY, proxy=False)


def test_bandwidth_is_the_lower_rate_of_both_ends_and_the_host_is_unlimited():
    peers = [Peer("172.30.0.5", Shape(bandwidth_mbit=5), False), Peer("172.30.0.6", Shape(), False)]
    script = node_script(Shape(bandwidth_mbit=20), peers, GATEWAY, proxy=False)
    assert "classid 1:1 htb rate 20mbit ceil 20mbit" in script  # its own egress
    assert "htb rate 5mbit ceil 5mbit" in script  # towards the slower peer
    assert f"match ip dst {GATEWAY}/32 flowid 1:2" in script
    assert "match ip dst 172.30.0.5/32" in script and "172.30.0.6" not in script
    # A node without a limit still holds the limited peer's rate towards it.
    towards = node_script(Shape(), peers, GATEWAY, proxy=False)
    assert "htb rate 5mbit ceil 5mbit" in towards and "rate 10gbit ceil 10gbit" in towards


def test_every_script_first_empties_its_own_chains_and_qdisc():
    script = node_script(Shape(), [], GATEWAY, proxy=False)
    for chain in ("PAVM-IN", "PAVM-OUT", "PAVM-REDIRECT-OUT", "PAVM-REDIRECT-IN"):
        assert f" -F {chain}" in script
    assert "tc qdisc del dev $DEV root" in script
    assert script.splitlines()[0] == "set -e"


def test_with_netem_a_peer_class_carries_both_ends_latency_and_no_proxy_is_needed():
    peers = [
        Peer("172.30.0.5", Shape(latency_ms=30, jitter_ms=5), False),
        Peer("172.30.0.6", Shape(), False),
        Peer("172.30.0.7", Shape(latency_ms=99), True),  # cut off: nothing to delay
    ]
    script = node_script(Shape(latency_ms=20), peers, GATEWAY, proxy=False, netem=True)
    assert "netem delay 50ms 5ms" in script  # 20 here + 30 there, each way
    assert "netem delay 20ms" in script  # towards a perfect peer: this end's own
    assert "172.30.0.7/32" not in script and "99ms" not in script
    assert "REDIRECT --to-ports" not in script
    assert f"match ip dst {GATEWAY}/32 flowid 1:2" in script  # the host is not delayed
