"""Print docker-compose.yml in the form ``docker stack deploy`` (Engine 20.10) accepts.

The Swarm loader of that engine predates the Compose Specification: it wants a
``version`` key and ``depends_on`` as a plain list (Swarm ignores start order and
health conditions anyway; each service retries until its dependencies answer), and
knows no profiles (services behind one are left out).

Services are reached by DNS round robin on task addresses and ports are published
on the host running the task, instead of through virtual IPs and the ingress mesh:
both of those need the kernel's IPVS, which not every engine has (this machine's
does not: a service VIP answers "no route to host"), and a testnet needs neither
(one miner, validators addressed by their own IP). Variables are still
interpolated by ``docker stack deploy``.
"""

import re
import sys
from pathlib import Path

import yaml


def swarm_form(spec: dict) -> dict:
    out = {"version": "3.8", **spec}
    # Swarm has no profiles: opt-in services (the locust 'load' profile) stay out.
    out["services"] = {
        name: service
        for name, service in out.get("services", {}).items()
        if not service.get("profiles")
    }
    for service in out["services"].values():
        depends = service.get("depends_on")
        if isinstance(depends, dict):
            service["depends_on"] = sorted(depends)
        service.pop("build", None)
        service.setdefault("deploy", {})["endpoint_mode"] = "dnsrr"
        if "ports" in service:
            service["ports"] = [_host_mode(port) for port in service["ports"]]
    return out


_PART = re.compile(r"\$\{[^}]*\}|[^:]+")
"""One colon-separated part of a port, where ${VAR:-default} counts as one."""


def _host_mode(port: str) -> dict:
    """``"8546"``, ``"${X:-8545}:8545"`` or ``"${H:-127.0.0.1}:${X:-8545}:8545"`` as a
    host-mode long-syntax port. A swarm publishes on every interface: the host
    address is dropped (docs/security.md says so)."""
    parts = _PART.findall(str(port))
    if not 1 <= len(parts) <= 3 or not parts[-1].isdigit():
        raise ValueError(f"port {port!r}: expected [HOST:][PUBLISHED:]TARGET")
    target = parts[-1]
    published = parts[-2] if len(parts) > 1 else None
    entry: dict = {"target": int(target), "protocol": "tcp", "mode": "host"}
    if published:
        entry["published"] = published
    return entry


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml")
    yaml.safe_dump(swarm_form(yaml.safe_load(source.read_text())), sys.stdout, sort_keys=False)
