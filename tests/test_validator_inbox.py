"""A validator's inbox of pushed blocks is bounded: beyond it, pushes are dropped and
counted (catch-up fetches what they carried), and the node's own signals still work."""

from tests.nodes import offline_validator
from validator import node as node_module
from validator.node import INBOX


def test_pushes_beyond_the_inbox_are_dropped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(node_module, "GENESIS_ATTEMPTS", 1)  # no miner to compare with here
    node = offline_validator(tmp_path)
    try:
        for _ in range(INBOX + 10):
            node.receive(b"\xc0")  # the work thread is not running: nothing drains
        assert node.dropped["inbox_full"] == 10
        node.request_catch_up()  # a full inbox takes no signal, and does not block
    finally:
        node.stop()


def test_pushes_beyond_the_inbox_bytes_are_dropped(tmp_path, monkeypatch):
    """64 pushes of the largest body a push may carry would hold 2.5 GiB: the inbox is
    bounded in bytes too, and a body taken out gives its bytes back."""
    monkeypatch.setattr(node_module, "GENESIS_ATTEMPTS", 1)
    monkeypatch.setattr(node_module, "INBOX_BYTES", 1000)
    node = offline_validator(tmp_path)
    try:
        for _ in range(3):
            node.receive(b"\xc0" * 400)
        assert node.dropped["inbox_full"] == 1
        node._inbox.get_nowait()
        node._taken(400)  # what the work thread does with each arrival
        node.receive(b"\xc0" * 400)
        assert node.dropped["inbox_full"] == 1
    finally:
        node.stop()
