"""The miner's member list: only members heard from lately get pushes, a silent one
gives its place up to a newcomer when the list is full, registrations outlive a
restart and count as heard at start-up."""

import pytest

from common.net.membership import NotAMember, Registration
from common.store.chain import ChainStore
from common.store.kv import LmdbDB
from miner import members as members_module
from miner.members import SILENT_AFTER, Members

TOKEN = b"j" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _registration(i: int, token: bytes = TOKEN) -> Registration:
    url = f"http://10.0.0.{i}:8546"
    return Registration.make(f"validator-{i}", bytes([i + 1]) * 32, url, token)


@pytest.fixture
def store(tmp_path):
    db = LmdbDB(tmp_path / "chain")
    yield ChainStore(db)
    db.close()


def test_a_member_not_heard_from_gets_no_pushes_until_it_speaks_again(store):
    clock = Clock()
    members = Members(store, TOKEN, clock)
    for i in (1, 2):
        members.register(_registration(i))
    clock.now += SILENT_AFTER - 1
    members.heard_from("validator-2")  # a verdict
    clock.now += 2
    assert members.urls() == ["http://10.0.0.2:8546"]
    assert members.silent() == ["validator-1"]
    assert members.names() == ["validator-1", "validator-2"]  # still a member
    members.register(_registration(1))  # its heartbeat
    assert members.urls() == ["http://10.0.0.1:8546", "http://10.0.0.2:8546"]
    assert members.silent() == []


def test_a_full_list_takes_a_newcomer_only_in_place_of_a_silent_member(store, monkeypatch):
    monkeypatch.setattr(members_module, "MAX_MEMBERS", 3)
    clock = Clock()
    members = Members(store, TOKEN, clock)
    for i in (1, 2, 3):
        members.register(_registration(i))
        clock.now += 10
    with pytest.raises(ValueError, match="3 validators are registered"):
        members.register(_registration(4))
    members.register(_registration(2))  # a member already there always may
    clock.now += SILENT_AFTER - 15  # validator-1 is silent, 2 was heard 15 s ago
    members.register(_registration(4))
    assert members.names() == ["validator-2", "validator-3", "validator-4"]
    assert [r["name"] for r in store.members()] == members.names()
    assert members.get("validator-1") is None  # its verdicts are refused from now on


def test_registrations_outlive_a_restart_and_count_as_heard_then(store):
    clock = Clock()
    Members(store, TOKEN, clock).register(_registration(1))
    clock.now += 10 * SILENT_AFTER
    restarted = Members(store, TOKEN, clock)
    assert restarted.get("validator-1") == _registration(1)
    assert restarted.urls() == ["http://10.0.0.1:8546"]


def test_only_the_join_token_makes_a_member(store):
    members = Members(store, TOKEN, Clock())
    with pytest.raises(NotAMember):
        members.register(_registration(1, token=b"x" * 32))
    with pytest.raises(NotAMember):
        Members(store, b"", Clock()).register(_registration(1, token=b""))
    assert members.names() == [] and store.members() == []
