"""Taking a new live candidate only while the server keeps up with the ones it has.

An overloaded server does not slow down gracefully. Once its event loop runs more than
~0.5 s late, aioice's consent checks fail, and about 30 s later every peer is dropped at
once; alert writes time out too. And when the analysers fall behind, every candidate is
analysed less often until the rules, which need a look a second, go blind for everyone
(on a machine 2.6x slower than the one the fixed cap was tuned on, 50 candidates ended
with 6 connected and 97 of 213 alerts missed). Machines differ, so the server measures its
own: a candidate who is not live yet is refused, with 503 and Retry-After (the page waits
and retries), while

- the analysers were busier than `max_load` of their capacity over the last seconds,
  counting each candidate admitted too recently to be measured as an average one
  (`AnalysisLoad`), so a burst at the exam's start does not all land at once;
- past half of `max_load` measured, another newcomer was taken within the window: near
  the limit a candidate's share is not constant (on one shared core it grew from 1.4 % to
  2.2 % of the analysers between 25 and 40 live), so newcomers are let in one at a time and
  measured before the next;
- analyses were waiting for an analyser (`AnalysisBacklog`): more on average over the
  window than the analysers run at once, the sign that they no longer keep up, whatever
  their busy share says;
- the event loop was late by more than `max_lag` at any point in the last `window` s;
- or the server already holds `max_sessions` (an upper bound; 0 for none).

A candidate already live who reconnects is always taken back: refusing them would drop
someone we were already watching.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable

from core.tasks import cancel_and_wait, spawn

__all__ = ["Admission", "AnalysisBacklog", "AnalysisLoad", "LoopLag"]

logger = logging.getLogger(__name__)


class _Sampled(ABC):
    """A figure measured every `interval` seconds in a task of its own, the samples of the
    last `window` seconds kept (`start`, then `stop`)."""

    def __init__(self, name: str, interval: float, window: float) -> None:
        self.interval = interval
        self.window = window
        self._name = name
        self._samples: deque[tuple[float, float]] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = spawn(self._run(), name=self._name, logger=logger)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self._samples.append((now, self._measure(before, now)))
            while self._samples and now - self._samples[0][0] > self.window:
                self._samples.popleft()

    @abstractmethod
    def _measure(self, slept_at: float, now: float) -> float:
        """The figure at `now`, after a sleep that began at `slept_at`."""


class LoopLag(_Sampled):
    """How late the event loop runs: by how much each wake-up from a sleep of `interval`
    came late, over the last `window` seconds."""

    def __init__(self, interval: float = 0.1, window: float = 5.0) -> None:
        super().__init__("loop-lag", interval, window)

    def _measure(self, slept_at: float, now: float) -> float:
        return max(0.0, now - slept_at - self.interval)

    def worst(self) -> float:
        """The largest lateness, in seconds, within the window (0 before any sample)."""
        now = time.monotonic()
        return max((lag for at, lag in self._samples if now - at <= self.window), default=0.0)


FIRST_GUESS_PER_CANDIDATE = 0.04
"""A candidate's share of the analysers before any was measured: on 2 cores of the slower
machine 50 candidates filled two analysis processes, 2 % of capacity each; guessing twice
that paces an exam-start burst at ~18 newcomers per measuring window until the measure
takes over."""


class AnalysisLoad(_Sampled):
    """How busy the analysers are: the share of their capacity (`capacity` analyses at once)
    spent analysing over the last `window` seconds, from a `busy()` clock of seconds spent
    (`live.analysis.BusyTime`) read every `interval`."""

    def __init__(
        self,
        busy: Callable[[], float],
        capacity: int,
        *,
        window: float = 5.0,
        interval: float = 0.5,
    ) -> None:
        super().__init__("analysis-load", interval, window)
        self._busy = busy
        self.capacity = max(1, capacity)

    def _measure(self, slept_at: float, now: float) -> float:
        return self._busy()

    def share(self) -> float:
        """0..1 (more when analyses overran their window): the busy share of capacity
        over the window; 0 before two samples."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / ((t1 - t0) * self.capacity) if t1 > t0 else 0.0


class AnalysisBacklog(_Sampled):
    """How many analyses wait for an analyser (`queued()`, read every `interval`), on
    average over the last `window` seconds."""

    def __init__(
        self, queued: Callable[[], int], *, window: float = 5.0, interval: float = 0.5
    ) -> None:
        super().__init__("analysis-backlog", interval, window)
        self._queued = queued

    def _measure(self, slept_at: float, now: float) -> float:
        return float(self._queued())

    def mean(self) -> float:
        """0 before any sample."""
        now = time.monotonic()
        recent = [queued for at, queued in self._samples if now - at <= self.window]
        return sum(recent) / len(recent) if recent else 0.0


class Admission:
    """Says why a new live session would be refused, or None to take it."""

    def __init__(
        self,
        lag: LoopLag,
        *,
        max_sessions: int = 0,
        max_lag: float = 0.25,
        load: AnalysisLoad | None = None,
        max_load: float = 0.75,
        backlog: AnalysisBacklog | None = None,
    ) -> None:
        """`max_sessions`: 0 for no fixed limit. `max_lag`: seconds; half of the 0.5 s
        after which ICE consent checks start to fail. `load` and `max_load`: the analysers'
        busy share above which newcomers wait (None: not measured here, e.g. the front of
        worker processes, whose workers measure their own). `backlog`: the analyses waiting,
        refused above `load.capacity` on average (None: not measured)."""
        self.lag = lag
        self.max_sessions = max_sessions
        self.max_lag = max_lag
        self.load = load
        self.max_load = max_load
        self.backlog = backlog
        self.refused = 0
        """Offers refused so far (for the stats endpoint and benchmarks)."""
        self._admitted: deque[float] = deque()
        self._per_candidate = FIRST_GUESS_PER_CANDIDATE

    def admit(self, live_sessions: int) -> str | None:
        """Why a newcomer is refused, or None: then it is counted as admitted at once, before
        the caller awaits anything, so offers that arrive together are judged one after the
        other and not all against the same figures."""
        reason = self._refusal(live_sessions)
        if reason is not None:
            self.refused += 1
        elif self.load is not None:  # (without a load to project on, nothing to count)
            self._admitted.append(time.monotonic())
        return reason

    def _refusal(self, live_sessions: int) -> str | None:
        if self.max_sessions and live_sessions >= self.max_sessions:
            return f"the server already watches its maximum of {self.max_sessions} candidates"
        if (late := self.lag.worst()) > self.max_lag:
            return f"the server is overloaded (running {late:.2f} s late)"
        if self.load is None:
            return None
        if (load := self.projected_load(live_sessions)) > self.max_load:
            return f"the analysers are {load:.0%} busy with the candidates already watched"
        if self._admitted and self.load.share() > self.max_load / 2:
            return "the analysers are near their limit: the last newcomer is still measured"
        if self.backlog is not None and (waiting := self.backlog.mean()) > self.load.capacity:
            return f"the analysers are behind ({waiting:.0f} analyses waiting)"
        return None

    def projected_load(self, live_sessions: int) -> float:
        """The measured busy share, plus an average candidate's share for each one admitted
        within the measuring window (what the measure does not show yet)."""
        if self.load is None:
            return 0.0
        now = time.monotonic()
        while self._admitted and now - self._admitted[0] > self.load.window:
            self._admitted.popleft()
        share = self.load.share()
        measured = max(0, live_sessions - len(self._admitted))
        if measured and share:
            self._per_candidate = share / measured
        return share + self._per_candidate * len(self._admitted)
