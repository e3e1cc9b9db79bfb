"""Failed-login throttling per username and per client address (sliding window, in memory)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(
        self, max_failures: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, *keys: str) -> float:
        """Seconds until a login may be tried for these keys; 0 when allowed now."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= self._max:
                wait = max(wait, recent[0] + self._window - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        if not recent:
            # Keep memory proportional to active attackers, not to every name ever tried.
            self._failures.pop(key, None)
            recent = self._failures.setdefault(key, deque())
        return recent
