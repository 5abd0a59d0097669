"""The validators a miner knows: who they are, where they take blocks, when they last
spoke (invariant 6, docs/architecture.md).

A member stays a member across restarts (the store keeps its registration), but the
miner pushes only to members it has heard from lately: a registration or a verdict
within :data:`SILENT_AFTER`. Members register again every ``HEARTBEAT`` seconds
(``common/net/membership.py``), so a live one never goes silent, while a dead one costs
nothing after a few minutes and gives its place up when the network is full.
"""

import threading
import time
from collections.abc import Callable

from common.net.membership import HEARTBEAT, MAX_MEMBERS, NotAMember, Registration
from common.store.chain import ChainStore

SILENT_AFTER = 5 * HEARTBEAT
"""Seconds without a registration or a verdict after which a member gets no pushes
(five missed heartbeats) and may be replaced by a new member."""


class Members:
    """Registrations by name, kept in the store, with when each member last spoke."""

    def __init__(
        self,
        store: ChainStore,
        join_token: bytes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.join_token = join_token
        self.clock = clock
        self._lock = threading.Lock()
        self._by_name = {r.name: r for r in map(Registration.from_json, store.members())}
        # Members kept from before a restart count as heard now: they get pushes until
        # they had time to register again.
        self._heard = dict.fromkeys(self._by_name, clock())

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def get(self, name: str) -> Registration | None:
        return self._by_name.get(name)

    def register(self, registration: Registration) -> None:
        """Make, update or refresh a member. :class:`NotAMember` without the join
        token; with :data:`MAX_MEMBERS` registered, the member silent the longest
        makes room if it is silent, else ``ValueError``."""
        if not self.join_token or not registration.proves(self.join_token):
            raise NotAMember("registration refused: it does not prove the network's join token")
        with self._lock:
            now = self.clock()
            if registration.name not in self._by_name and len(self._by_name) >= MAX_MEMBERS:
                oldest = min(self._heard, key=self._heard.__getitem__)
                if now - self._heard[oldest] < SILENT_AFTER:
                    raise ValueError(
                        f"registration refused: {MAX_MEMBERS} validators are registered"
                    )
                self.store.forget_member(oldest)
                del self._by_name[oldest], self._heard[oldest]
            if self._by_name.get(registration.name) != registration:
                self.store.put_member(registration.name, registration.to_json())
                self._by_name[registration.name] = registration
            self._heard[registration.name] = now

    def heard_from(self, name: str) -> None:
        """Note that member ``name`` spoke (a verdict it signed arrived)."""
        with self._lock:
            if name in self._by_name:
                self._heard[name] = self.clock()

    def urls(self) -> list[str]:
        """Push URLs of the members heard from within :data:`SILENT_AFTER`."""
        with self._lock:
            now = self.clock()
            return sorted(
                {
                    r.url
                    for name, r in self._by_name.items()
                    if r.url and now - self._heard[name] < SILENT_AFTER
                }
            )

    def silent(self) -> list[str]:
        """Members not heard from within :data:`SILENT_AFTER` (they get no pushes)."""
        with self._lock:
            now = self.clock()
            return sorted(n for n, t in self._heard.items() if now - t >= SILENT_AFTER)
