"""Where a live session's frames are analysed: the one place that decides it.

`analysis_placement(processes)` gives child processes (`InProcesses`, the default: one per
core) or, with 0, the calling worker threads (`InThreads`); a `LiveSession` only ever sees
an `Analyzer` with `analyze(image, ts)` and `close()`.

In processes: the models release the GIL, but the Python around them (letterboxing,
decoding boxes, crops, head pose, the analyser's bookkeeping) does not. With 30 candidates
on one process that Python competed with the event loop for one GIL: the machine still had
a third of its CPU idle while analyses queued (BENCHMARKS.md). In child processes each
analysis has a GIL of its own, and the identity descriptor (dlib holds the GIL ~11 ms) runs
there in-line.

A `FrameAnalyzer` keeps per-session state (calibration, mouth history, the face last
checked), so every frame of a session goes to the same child: `session_id % processes`.
The child creates the analyser on the session's first frame, and again after a restart,
so a child that dies costs that session its calibration, not its analysis.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

import numpy as np

from detectors.base import FrameAnalysis
from detectors.pipeline import AnalyzerSettings, FrameAnalyzer

__all__ = [
    "AnalysisPlacement",
    "Analyzer",
    "InProcesses",
    "InThreads",
    "RemoteAnalyzer",
    "analysis_placement",
    "limit_blas_threads",
]

logger = logging.getLogger(__name__)

_ANALYZERS: dict[int, FrameAnalyzer] = {}
"""In a child: the analysers of the sessions pinned to it."""


def _analyze(
    session_id: int,
    reference: np.ndarray | None,
    settings: AnalyzerSettings,
    bgr: np.ndarray,
    ts: float,
    delay: float,
) -> tuple[FrameAnalysis, float]:
    """Runs in the child: the analysis and the seconds it kept the child busy."""
    started = time.perf_counter()
    analyzer = _ANALYZERS.get(session_id)
    if analyzer is None:
        analyzer = _ANALYZERS[session_id] = FrameAnalyzer(reference, settings)
    analysis = analyzer.analyze(bgr, ts)
    if delay:
        time.sleep(delay)
    return analysis, time.perf_counter() - started


def _forget(session_id: int) -> None:
    """Runs in the child."""
    _ANALYZERS.pop(session_id, None)


class Analyzer(Protocol):
    """One session's frame analysis. Call `analyze` from a worker thread, one frame at a
    time; `close` when the session ends."""

    def analyze(self, image: np.ndarray, ts: float) -> FrameAnalysis: ...

    def close(self) -> None: ...


class BusyTime:
    """Seconds the analysers have spent analysing, summed; read it twice to get how busy
    they were in between (`live.admission.BusyShare`)."""

    def __init__(self) -> None:
        self._seconds = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._seconds += seconds

    @property
    def seconds(self) -> float:
        return self._seconds


class AnalysisPlacement(Protocol):
    busy: BusyTime
    capacity: int
    """Analyses that can run at once (processes, or threads)."""

    def analyzer(
        self, session_id: int, reference: np.ndarray | None, settings: AnalyzerSettings
    ) -> Analyzer: ...

    def close(self) -> None: ...


def limit_blas_threads() -> None:
    """dlib is built against OpenBLAS (scripts/install), which would start a thread per core
    in every process for each descriptor: one thread is as fast here (11.4 ms against 10.4
    on two) and leaves the cores to the other sessions. OpenBLAS reads this once, when dlib
    first loads; spawned children inherit it."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def analysis_placement(processes: int, threads: int, delay: float = 0.0) -> AnalysisPlacement:
    """Child processes when `processes` > 0 (the default, `PROCTOR_ANALYSIS_PROCESSES`), else
    the caller's `threads` worker threads. `delay`: test only, every analysis takes that
    much longer (a slower machine, `PROCTOR_ANALYSIS_DELAY_SECONDS`)."""
    limit_blas_threads()
    return InProcesses(processes, delay) if processes else InThreads(threads, delay)


class InThreads:
    """Each session's `FrameAnalyzer` runs in whichever worker thread calls it."""

    def __init__(self, threads: int, delay: float = 0.0) -> None:
        self.capacity = threads
        self.busy = BusyTime()
        self._delay = delay

    def analyzer(
        self, session_id: int, reference: np.ndarray | None, settings: AnalyzerSettings
    ) -> Analyzer:
        return _LocalAnalyzer(FrameAnalyzer(reference, settings), self.busy, self._delay)

    def close(self) -> None:
        pass  # the models belong to the threads


class _LocalAnalyzer:
    def __init__(self, analyzer: FrameAnalyzer, busy: BusyTime, delay: float) -> None:
        self._analyzer = analyzer
        self._busy = busy
        self._delay = delay

    def analyze(self, image: np.ndarray, ts: float) -> FrameAnalysis:
        started = time.perf_counter()
        analysis = self._analyzer.analyze(image, ts)
        if self._delay:
            time.sleep(self._delay)
        self._busy.add(time.perf_counter() - started)
        return analysis

    def close(self) -> None:
        pass  # nothing outlives the session's FrameAnalyzer


class InProcesses:
    """`processes` children, started on first use (spawned: the server has threads)."""

    def __init__(self, processes: int, delay: float = 0.0) -> None:
        if processes < 1:
            raise ValueError("InProcesses needs at least one process")
        self.capacity = processes
        self.busy = BusyTime()
        self.delay = delay
        self._children: list[ProcessPoolExecutor | None] = [None] * processes
        self._lock = threading.Lock()

    def child(self, session_id: int) -> ProcessPoolExecutor:
        index = session_id % len(self._children)
        with self._lock:
            child = self._children[index]
            if child is None:
                context = multiprocessing.get_context("spawn")
                child = self._children[index] = ProcessPoolExecutor(1, mp_context=context)
            return child

    def replace_broken(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            for index, child in enumerate(self._children):
                if child is broken:
                    self._children[index] = None
        broken.shutdown(wait=False, cancel_futures=True)

    def analyzer(
        self, session_id: int, reference: np.ndarray | None, settings: AnalyzerSettings
    ) -> Analyzer:
        return RemoteAnalyzer(self, session_id, reference, settings)

    def close(self) -> None:
        with self._lock:
            children, self._children = self._children, [None] * len(self._children)
        for child in children:
            if child is not None:
                child.shutdown(wait=True, cancel_futures=True)


class RemoteAnalyzer:
    """`FrameAnalyzer.analyze` for one session, run in its child. Call from a worker
    thread (it waits for the child with the GIL released), one frame at a time."""

    def __init__(
        self,
        pool: InProcesses,
        session_id: int,
        reference: np.ndarray | None,
        settings: AnalyzerSettings,
    ) -> None:
        self._pool = pool
        self.session_id = session_id
        self._reference = reference
        self._settings = settings

    def analyze(self, bgr: np.ndarray, ts: float) -> FrameAnalysis:
        child = self._pool.child(self.session_id)
        args = (self.session_id, self._reference, self._settings, bgr, ts, self._pool.delay)
        try:
            analysis, busy = child.submit(_analyze, *args).result()
        except BrokenProcessPool:
            logger.error("session %s: the analysis process died; starting a new one", args[0])
            self._pool.replace_broken(child)
            analysis, busy = self._pool.child(self.session_id).submit(_analyze, *args).result()
        self._pool.busy.add(busy)
        return analysis

    def close(self) -> None:
        """Drop the session's analyser in its child (best effort, does not wait)."""
        # A child that is gone or shutting down has lost the analyser anyway.
        with contextlib.suppress(BrokenProcessPool, RuntimeError):
            self._pool.child(self.session_id).submit(_forget, self.session_id)
