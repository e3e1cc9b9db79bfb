"""Throttles for the public doors: logins and registrations, per client address.

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
from typing import Protocol

Clock = Callable[[], float]

USERNAME_DELAY_SECONDS = 1.0
"""How long an attempt on a username that has failed too often (from anywhere) waits."""


class Windows(Protocol):
    """At most a limit of hits per key within a window of seconds. In this process's memory
    (`SlidingWindow`) on one box; in Redis with several nodes (`cluster.shared`), so that
    every node counts the same attempts."""

    async def retry_after(self, key: str) -> float:
        """Seconds until `key` may be hit again; 0 when it may now."""
        ...

    async def hit(self, key: str) -> None: ...

    async def clear(self, key: str) -> None: ...


class SlidingWindow:
    """At most `limit` hits per key within `window_seconds`, in memory."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock = time.monotonic) -> None:
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    async def retry_after(self, key: str) -> float:
        """Seconds until `key` may be hit again; 0 when it may now."""
        now = self._clock()
        recent = self._recent(key, now)
        if len(recent) < self._limit:
            return 0.0
        return recent[-self._limit] + self._window - now

    async def hit(self, key: str) -> None:
        now = self._clock()
        self._hits.setdefault(key, self._recent(key, now)).append(now)

    async def clear(self, key: str) -> None:
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

    def __init__(self, pairs: Windows, addresses: Windows, usernames: Windows) -> None:
        """`pairs` and `usernames` allow the per-username-and-address count, `addresses`
        the per-address count (`in_memory` builds them for one box)."""
        self._pairs = pairs
        self._addresses = addresses
        self._usernames = usernames

    @classmethod
    def in_memory(
        cls,
        per_username_and_address: int,
        per_address: int,
        window_seconds: float,
        clock: Clock = time.monotonic,
    ) -> LoginGuard:
        return cls(
            SlidingWindow(per_username_and_address, window_seconds, clock),
            SlidingWindow(per_address, window_seconds, clock),
            SlidingWindow(per_username_and_address, window_seconds, clock),
        )

    async def check(self, username: str, address: str) -> LoginVerdict:
        wait = max(
            await self._pairs.retry_after(_pair(username, address)),
            await self._addresses.retry_after(address),
        )
        attacked = await self._usernames.retry_after(username.lower()) > 0
        return LoginVerdict(retry_after=wait, delay=USERNAME_DELAY_SECONDS if attacked else 0.0)

    async def failed(self, username: str, address: str) -> None:
        await self._pairs.hit(_pair(username, address))
        await self._addresses.hit(address)
        await self._usernames.hit(username.lower())

    async def succeeded(self, username: str, address: str) -> None:
        await self._pairs.clear(_pair(username, address))


def _pair(username: str, address: str) -> str:
    return f"{username.lower()}\n{address}"
