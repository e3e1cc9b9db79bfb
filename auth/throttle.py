"""Throttles for the public doors, in memory: logins and registrations, per client address.

A lock per username lets anyone lock a known candidate out just before the exam with five
bad passwords. So a username alone is never locked: guessing is stopped per username *and*
address (the same client trying one account) and per address (one client trying many),
and a username under attack from many addresses only makes each attempt on it wait a
second, which the owner barely notices and which costs a guesser a second per try.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

USERNAME_DELAY_SECONDS = 1.0
"""How long an attempt on a username that has failed too often (from anywhere) waits."""


class SlidingWindow:
    """At most `limit` hits per key within `window_seconds`."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock = time.monotonic) -> None:
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may be hit again; 0 when it may now."""
        now = self._clock()
        recent = self._recent(key, now)
        if len(recent) < self._limit:
            return 0.0
        return recent[-self._limit] + self._window - now

    def full(self, key: str) -> bool:
        return self.retry_after(key) > 0

    def hit(self, key: str) -> None:
        now = self._clock()
        self._hits.setdefault(key, self._recent(key, now)).append(now)

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._hits.get(key)
        if recent is None:
            return deque()
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        if not recent:
            # Memory proportional to active clients, not to every name ever tried.
            del self._hits[key]
        return recent


@dataclass(frozen=True, slots=True)
class LoginVerdict:
    retry_after: float
    """Above 0: refuse (429) and say when to come back."""
    delay: float
    """Seconds to wait before checking the password (the username is under attack)."""


class LoginGuard:
    """Failed logins counted per username-and-address, per address and per username."""

    def __init__(
        self,
        per_username_and_address: int,
        per_address: int,
        window_seconds: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._pairs = SlidingWindow(per_username_and_address, window_seconds, clock)
        self._addresses = SlidingWindow(per_address, window_seconds, clock)
        self._usernames = SlidingWindow(per_username_and_address, window_seconds, clock)

    def check(self, username: str, address: str) -> LoginVerdict:
        wait = max(
            self._pairs.retry_after(_pair(username, address)),
            self._addresses.retry_after(address),
        )
        delay = USERNAME_DELAY_SECONDS if self._usernames.full(username.lower()) else 0.0
        return LoginVerdict(retry_after=wait, delay=delay)

    def failed(self, username: str, address: str) -> None:
        self._pairs.hit(_pair(username, address))
        self._addresses.hit(address)
        self._usernames.hit(username.lower())

    def succeeded(self, username: str, address: str) -> None:
        self._pairs.clear(_pair(username, address))


def _pair(username: str, address: str) -> str:
    return f"{username.lower()}\n{address}"
