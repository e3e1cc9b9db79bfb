"""Taking a new live candidate only while the server can still watch the ones it has.

An overloaded server does not slow down gracefully. Once its event loop runs more than
~0.5 s late, aioice's consent checks fail, and about 30 s later every peer is dropped at
once; alert writes time out too (BENCHMARKS.md). So a candidate who is not live yet is
refused, with 503 and Retry-After (the page waits and retries), when the server already
holds `max_sessions` live sessions, or when the loop was late by more than `max_lag` at
any point in the last `window` seconds. A candidate already live who reconnects is always
taken back: refusing them would drop someone we were already watching.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from core.tasks import cancel_and_wait, spawn

__all__ = ["Admission", "LoopLag"]

logger = logging.getLogger(__name__)


class LoopLag:
    """How late the event loop runs: a task that sleeps `interval` and records by how much
    each wake-up came late, over the last `window` seconds."""

    def __init__(self, interval: float = 0.1, window: float = 5.0) -> None:
        self.interval = interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = spawn(self._run(), name="loop-lag", logger=logger)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self._samples.append((now, max(0.0, now - before - self.interval)))
            while self._samples and now - self._samples[0][0] > self.window:
                self._samples.popleft()

    def worst(self) -> float:
        """The largest lateness, in seconds, within the window (0 before any sample)."""
        now = time.monotonic()
        return max((lag for at, lag in self._samples if now - at <= self.window), default=0.0)


class Admission:
    """Says why a new live session would be refused, or None to take it."""

    def __init__(self, lag: LoopLag, *, max_sessions: int = 0, max_lag: float = 0.25) -> None:
        """`max_sessions`: 0 for no fixed limit. `max_lag`: seconds; half of the 0.5 s
        after which ICE consent checks start to fail."""
        self.lag = lag
        self.max_sessions = max_sessions
        self.max_lag = max_lag
        self.refused = 0
        """Offers refused so far (for the stats endpoint and benchmarks)."""

    def refusal(self, live_sessions: int) -> str | None:
        reason = None
        if self.max_sessions and live_sessions >= self.max_sessions:
            reason = f"the server already watches its maximum of {self.max_sessions} candidates"
        elif (late := self.lag.worst()) > self.max_lag:
            reason = f"the server is overloaded (running {late:.2f} s late)"
        if reason is not None:
            self.refused += 1
        return reason
