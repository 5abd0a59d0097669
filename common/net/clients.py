"""Telling clients apart by their address, for the limits one client may not exhaust
alone (invariant 9, docs/architecture.md): a node counts HTTP connections, WebSocket
sockets and filters per client, and caps each count well below the node's own limit,
so a second client still finds room while one holds its maximum.

An address tells clients apart only so far: processes behind one NAT, or on one host,
share their address and so share its caps.
"""

import ipaddress

IPV6_CLIENT_PREFIX = 64
"""Bits of an IPv6 address that name one client: a host is routinely given a whole
/64, and could otherwise take a fresh address for every connection."""


def client_key(host: str | None) -> str | None:
    """The client that ``host`` (a peer's IP address, as the server reports it) belongs
    to: an IPv4 address whole (an IPv4-mapped IPv6 one too), an IPv6 address by its /64.
    ``None`` for no address or none that is IP (a Unix socket): nothing to count by."""
    if host is None:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
