"""A client is what its address tells apart: an IPv4 address, an IPv6 /64."""

import pytest

from common.net.clients import client_key


@pytest.mark.parametrize(
    "host, client",
    [
        ("127.0.0.2", "127.0.0.2"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("/run/node.sock", None),
        (None, None),
    ],
)
def test_client_key(host, client):
    assert client_key(host) == client
