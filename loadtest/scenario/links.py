"""What each node's link does at a moment of a scenario, as the shell script that makes
it so inside the node's container (run as root with NET_ADMIN).

Per node, the last ``links`` entry naming it applies, unless a ``slow-link`` fault
has since given it another. The kernel shapes what it can:

- **loss**: iptables' ``statistic`` match drops that share of the packets the node
  sends and of those it receives;
- **bandwidth**: an ``htb`` class per destination on the node's interface, at the
  lower of its own and the destination's rate, so a limit holds both ways;
- **partition**: iptables drops everything between the cut-off nodes and the rest;
- **latency and jitter**: where the kernel has the ``netem`` qdisc (detected, see
  :data:`NETEM_PROBE`), a netem leaf under each destination's htb class delays what
  the node sends there by both ends' latency, so each direction of a link between
  two nodes carries the sum of theirs. Kernels without netem (this project's CI
  machines) get the transparent delay proxy (``delay_proxy.py``) instead: iptables
  REDIRECTs the node's TCP connections both ways to it, and it adds the node's
  latency once per direction, the same sum end to end.

Traffic to and from the Docker network's gateway (the host: the scenario runner's
probes and the load generator) is never shaped: what the runner measures is the
network's own links, not the path to its probes.
"""

from dataclasses import dataclass

from loadtest.scenario.delay_proxy import MARK
from loadtest.scenario.spec import Behaviour, Scenario

PROXY_PORT = 15001
STATE_DIR = "/run/pavm-link"
SETTINGS = f"{STATE_DIR}/delay.json"
READY = f"{STATE_DIR}/ready"
PID = f"{STATE_DIR}/proxy.pid"
UNLIMITED = "10gbit"
NETEM_PROBE = (
    "tc qdisc add dev lo root netem delay 1ms 2>/dev/null && tc qdisc del dev lo root "
    "&& echo netem || echo none"
)
"""Prints ``netem`` where the kernel has the qdisc (tried on the loopback, undone)."""


Shape = Behaviour
"""One node's link now."""


def shapes(plan: Scenario, overrides: dict[str, Shape]) -> dict[str, Shape]:
    """Every node's link now: its last ``links`` entry, or its ``slow-link`` override."""
    out = {node: Shape() for node in plan.nodes("all")}
    for link in plan.links:
        for node in plan.nodes(link.nodes):
            out[node] = link.behaviour()
    out.update(overrides)
    return out


@dataclass(frozen=True)
class Peer:
    ip: str
    shape: Shape
    cut: bool
    """On the other side of a partition from this node."""


def node_script(
    shape: Shape,
    peers: list[Peer],
    gateway: str,
    proxy: bool,
    reset: bool = False,
    netem: bool = False,
) -> str:
    """The shell script that gives one node ``shape`` towards ``peers``; it first undoes
    what an earlier run of it did, so it can be run again whenever anything changes
    (a fault, a node back with another address).

    ``proxy``: the node's delay proxy runs, and every new TCP connection passes it
    (at the delay ``shape`` sets, which may be none). ``reset``: its connections to
    other nodes, opened before these rules (past no proxy, or an earlier one), are
    closed (``ss -K``), and the nodes open them again under them. ``netem``: latency
    is the kernel's, per destination, and no proxy is used."""
    lines = [
        "set -e",
        "DEV=$(ip -o route show default | awk '{print $5; exit}')",
        '[ -n "$DEV" ] || { echo "no default route" >&2; exit 1; }',
    ]
    lines += _chains()
    for peer in peers:
        if peer.cut:
            lines.append(f"iptables -A PAVM-IN -s {peer.ip} -j DROP")
            lines.append(f"iptables -A PAVM-OUT -d {peer.ip} -j DROP")
            # A connection REDIRECTed to the delay proxy is addressed to 127.0.0.1 by
            # now: its original destination says where it was going.
            lines.append(f"iptables -A PAVM-OUT -m conntrack --ctorigdst {peer.ip} -j DROP")
    if shape.loss_pct:
        chance = f"{shape.loss_pct / 100:.6f}"
        lines.append(
            f"iptables -A PAVM-IN -i $DEV ! -s {gateway} "
            f"-m statistic --mode random --probability {chance} -j DROP"
        )
        lines.append(
            f"iptables -A PAVM-OUT -o $DEV ! -d {gateway} "
            f"-m statistic --mode random --probability {chance} -j DROP"
        )
    if shape.latency_ms and not (proxy or netem):
        raise ValueError("latency needs the delay proxy or netem")
    if proxy:
        lines.append(
            f'printf \'%s\' \'{{"latency_ms": {shape.latency_ms}, "jitter_ms": '
            f"{shape.jitter_ms}}}' > {SETTINGS}.new && mv {SETTINGS}.new {SETTINGS}"
        )
        lines += [
            f"iptables -t nat -A PAVM-REDIRECT-OUT -m mark --mark {MARK:#x} -j RETURN",
            "iptables -t nat -A PAVM-REDIRECT-OUT -d 127.0.0.0/8 -j RETURN",
            f"iptables -t nat -A PAVM-REDIRECT-OUT -d {gateway} -j RETURN",
            f"iptables -t nat -A PAVM-REDIRECT-OUT -p tcp -j REDIRECT --to-ports {PROXY_PORT}",
            f"iptables -t nat -A PAVM-REDIRECT-IN -s {gateway} -j RETURN",
            f"iptables -t nat -A PAVM-REDIRECT-IN -p tcp -j REDIRECT --to-ports {PROXY_PORT}",
        ]
    if reset:
        lines.append(
            "ss -K -t state established "
            f"'( ! dst 127.0.0.0/8 and ! src 127.0.0.0/8 and ! dst {gateway} )' "
            ">/dev/null 2>&1 || true"
        )
    lines.append("tc qdisc del dev $DEV root 2>/dev/null || true")
    lines += _egress(shape, peers, gateway, netem)
    return "\n".join(lines) + "\n"


def _chains() -> list[str]:
    """This module's own chains, hooked once and emptied on every run."""
    lines = []
    for table, chain, hook in (
        ("filter", "PAVM-IN", "INPUT"),
        ("filter", "PAVM-OUT", "OUTPUT"),
        ("nat", "PAVM-REDIRECT-OUT", "OUTPUT"),
        ("nat", "PAVM-REDIRECT-IN", "PREROUTING"),
    ):
        ipt = f"iptables -t {table}"
        lines += [
            f"{ipt} -N {chain} 2>/dev/null || true",
            f"{ipt} -F {chain}",
            f"{ipt} -C {hook} -j {chain} 2>/dev/null || {ipt} -A {hook} -j {chain}",
        ]
    return lines


def _egress(shape: Shape, peers: list[Peer], gateway: str, netem: bool) -> list[str]:
    """htb on the node's interface: its own rate by default, the host unlimited, and
    a class per peer that has a rate (or, with ``netem``, a delay) of its own."""

    def delayed(peer: Peer) -> bool:
        return netem and bool(peer.shape.latency_ms or shape.latency_ms)

    limited = [p for p in peers if not p.cut and (p.shape.bandwidth_mbit or delayed(p))]
    if not shape.bandwidth_mbit and not limited:
        return []
    own = f"{shape.bandwidth_mbit:g}mbit" if shape.bandwidth_mbit else UNLIMITED
    lines = [
        "tc qdisc add dev $DEV root handle 1: htb default 1 r2q 100",
        f"tc class add dev $DEV parent 1: classid 1:1 htb rate {own} ceil {own}",
        f"tc class add dev $DEV parent 1: classid 1:2 htb rate {UNLIMITED}",
        f"tc filter add dev $DEV parent 1: protocol ip prio 1 u32 match ip dst {gateway}/32 "
        "flowid 1:2",
    ]
    for index, peer in enumerate(limited, start=10):
        rates = [r for r in (peer.shape.bandwidth_mbit, shape.bandwidth_mbit) if r]
        rate = f"{min(rates):g}mbit" if rates else UNLIMITED
        lines += [
            f"tc class add dev $DEV parent 1: classid 1:{index:x} htb rate {rate} ceil {rate}",
            f"tc filter add dev $DEV parent 1: protocol ip prio 2 u32 match ip dst "
            f"{peer.ip}/32 flowid 1:{index:x}",
        ]
        if delayed(peer):
            delay = shape.latency_ms + peer.shape.latency_ms
            jitter = shape.jitter_ms + peer.shape.jitter_ms
            lines.append(
                f"tc qdisc add dev $DEV parent 1:{index:x} handle {index:x}: netem "
                f"delay {delay:g}ms" + (f" {jitter:g}ms" if jitter else "") + " limit 100000"
            )
    return lines


def proxy_command() -> list[str]:
    """The transparent delay proxy as a node runs it, following :data:`SETTINGS`; one
    an earlier run left behind is stopped first."""
    return [
        "sh",
        "-c",
        f"mkdir -p {STATE_DIR} && rm -f {READY} && "
        # Only a process that is the proxy: a PID from before a restart may be another.
        f"{{ tr '\\0' ' ' < /proc/$(cat {PID} 2>/dev/null)/cmdline 2>/dev/null "
        "| grep -q '^python -m loadtest.scenario.delay_proxy' "
        f"&& kill $(cat {PID}) && sleep 0.2; }}; "
        f"echo $$ > {PID} && exec python -m "
        f"loadtest.scenario.delay_proxy --listen 0.0.0.0:{PROXY_PORT} --transparent "
        f"--settings {SETTINGS} --ready-file {READY} > {STATE_DIR}/proxy.log 2>&1",
    ]


def wait_ready_script() -> str:
    """Waits (up to 10 s) until the delay proxy listens."""
    return (
        f"for i in $(seq 100); do [ -f {READY} ] && exit 0; sleep 0.1; done; "
        f"echo 'the delay proxy did not start:' >&2; tail -5 {STATE_DIR}/proxy.log >&2; exit 1"
    )
