"""Taking a new live candidate only while the server keeps up with the ones it has.

An overloaded server does not slow down gracefully. Once its event loop runs more than
~0.5 s late, aioice's consent checks fail, and about 30 s later every peer is dropped at
once; alert writes time out too. And when the analysers fall behind, every candidate is
analysed less often until the rules, which need a look a second, go blind for everyone
(on a machine 2.6x slower than the one the fixed cap was tuned on, 50 candidates ended
with 6 connected and 97 of 213 alerts missed). Machines differ, so the server measures its
own: a candidate who is not live yet is refused, with 503 and Retry-After (the page waits
and retries), while

- a `Budget` would be exceeded: the analysers' busy share of their capacity, or the
  processors' share the server's processes use (`ProcessTreeCpu`; on a box where they are
  the bottleneck, analysers waiting for a processor look busy too late), over the last
  seconds, counting each candidate admitted too recently to be measured as an average one,
  so a burst at the exam's start does not all land at once; past half of the budget, twice
  an average one, because a candidate's share grows near the limit (on one shared core,
  from 2.5 % to 3 % of it between 16 and 33 live);
- analyses were waiting for an analyser (`AnalysisBacklog`): more on average over the
  window than the analysers run at once, the sign that they no longer keep up, whatever
  the budgets say;
- the event loop was late by more than `max_lag` at any point in the last `window` s;
- or the server already holds `max_sessions` (an upper bound; 0 for none).

`admit` counts a newcomer at once, before the caller awaits anything: offers that arrive
together are judged one after the other. A candidate already live who reconnects is always
taken back: refusing them would drop someone we were already watching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.tasks import cancel_and_wait, spawn

__all__ = [
    "Admission",
    "AnalysisBacklog",
    "Budget",
    "BusyShare",
    "LoopLag",
    "ProcessTreeCpu",
    "Sampler",
    "available_cpus",
]

logger = logging.getLogger(__name__)


class Sampler(ABC):
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


class LoopLag(Sampler):
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
"""A candidate's share of a budget before any was measured: on 2 cores of the slower
machine 50 candidates filled two analysis processes, 2 % of capacity each; guessing twice
that paces an exam-start burst at ~18 newcomers per measuring window until the measure
takes over."""


class BusyShare(Sampler):
    """How busy something is: the share of its capacity (`capacity` seconds of work per
    second: analysers, processors) spent over the last `window` seconds, from a `busy()`
    clock of seconds spent (`live.analysis.BusyTime`, `ProcessTreeCpu`) read every
    `interval`."""

    def __init__(
        self,
        name: str,
        busy: Callable[[], float],
        capacity: float,
        *,
        window: float = 5.0,
        interval: float = 0.5,
    ) -> None:
        super().__init__(name, interval, window)
        self._busy = busy
        self.capacity = max(1.0, capacity)

    def _measure(self, slept_at: float, now: float) -> float:
        return self._busy()

    def share(self) -> float:
        """0..1 (more when analyses overran their window): the busy share of capacity
        over the window; 0 before two samples."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / ((t1 - t0) * self.capacity) if t1 > t0 else 0.0


class AnalysisBacklog(Sampler):
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


class ProcessTreeCpu:
    """Processor seconds this process and its descendants (live workers, analysis processes)
    have used since it was created; `seconds()` reads them. A child that exits takes its
    time along, so each process's increments between reads are summed (what a child used
    after the last read before it exited is not counted: the workers live for hours)."""

    def __init__(self) -> None:
        self._root = psutil.Process()
        self._last: dict[int, float] = {}
        self._total = 0.0

    def seconds(self) -> float:
        now: dict[int, float] = {}
        for process in (self._root, *self._root.children(recursive=True)):
            with contextlib.suppress(psutil.Error):  # it exited meanwhile
                times = process.cpu_times()
                now[process.pid] = times.user + times.system
        self._total += sum(max(0.0, cpu - self._last.get(pid, 0.0)) for pid, cpu in now.items())
        self._last = now
        return self._total


def available_cpus() -> float:
    """The processors this process may use: its affinity, capped by a cgroup v2 quota."""
    cpus = float(len(os.sched_getaffinity(0)))
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    return cpus


MIN_MEASURED = 5
"""Candidates measured before their average replaces the first guess: with fewer, start-up
work (the analysis processes loading their models on first use) would pass for theirs."""


@dataclass
class Budget:
    """A share of a capacity the candidates use (`share`), kept under `limit` (`what` is
    refused: "the analysers", "the processors")."""

    what: str
    share: BusyShare
    limit: float
    per_candidate: float = FIRST_GUESS_PER_CANDIDATE
    """An average live candidate's share, as last measured."""

    def projected(self, live_sessions: int, newcomers: int) -> float:
        """The measured share plus what `newcomers` (admitted within the window: not
        measured yet) will add: an average candidate's share each, twice past half."""
        measured_share = self.share.share()
        measured = max(0, live_sessions - newcomers)
        if measured >= MIN_MEASURED and measured_share:
            self.per_candidate = measured_share / measured
        weight = 2.0 if measured_share > self.limit / 2 else 1.0
        return measured_share + weight * self.per_candidate * newcomers


class Admission:
    """Says why a new live session would be refused, or None to take it."""

    def __init__(
        self,
        lag: LoopLag,
        *,
        max_sessions: int = 0,
        max_lag: float = 0.25,
        budgets: Sequence[Budget] = (),
        backlog: AnalysisBacklog | None = None,
        max_backlog: float = 1.0,
    ) -> None:
        """`max_sessions`: 0 for no fixed limit. `max_lag`: seconds; half of the 0.5 s
        after which ICE consent checks start to fail. `budgets`: the shares measured here
        (none at the front of worker processes for the analysers: each worker measures
        its own). `backlog`: the analyses waiting, refused above `max_backlog` on average
        (None: not measured)."""
        self.lag = lag
        self.max_sessions = max_sessions
        self.max_lag = max_lag
        self.budgets = list(budgets)
        self.backlog = backlog
        self.max_backlog = max_backlog
        self.refused = 0
        """Offers refused so far (for the stats endpoint and benchmarks)."""
        self._admitted: deque[float] = deque()
        self._window = max((b.share.window for b in self.budgets), default=0.0)

    def admit(self, live_sessions: int) -> str | None:
        """Why a newcomer is refused, or None: then it is counted as admitted at once."""
        reason = self._refusal(live_sessions)
        if reason is not None:
            self.refused += 1
        elif self.budgets:  # (without a budget to project on, nothing to count)
            self._admitted.append(time.monotonic())
        return reason

    def _refusal(self, live_sessions: int) -> str | None:
        if self.max_sessions and live_sessions >= self.max_sessions:
            return f"the server already watches its maximum of {self.max_sessions} candidates"
        if (late := self.lag.worst()) > self.max_lag:
            return f"the server is overloaded (running {late:.2f} s late)"
        newcomers = self.newcomers()
        for budget in self.budgets:
            if (share := budget.projected(live_sessions + 1, newcomers + 1)) > budget.limit:
                return f"{budget.what} would be {share:.0%} busy with one more candidate"
        if self.backlog is not None and (waiting := self.backlog.mean()) > self.max_backlog:
            return f"the analysers are behind ({waiting:.0f} analyses waiting)"
        return None

    def newcomers(self) -> int:
        """Candidates admitted within the measuring window (not measured yet)."""
        now = time.monotonic()
        while self._admitted and now - self._admitted[0] > self._window:
            self._admitted.popleft()
        return len(self._admitted)
