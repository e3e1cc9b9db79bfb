"""Sampling a live video track for analysis at a fixed, low rate.

A browser sends 15-30 frames a second; detectors need about 2. The reader task takes every
frame off aiortc's unbounded queue as soon as it is decoded and keeps only the newest one;
the analysis task wakes every `1 / analysis_fps` seconds, takes that newest frame and runs
`analyze` in the executor. One analysis at a time per session: when analysis is slower than
the rate, frames in between are simply never looked at, so neither memory nor latency grows.

Under load every sampler slows itself down, down to `min_analysis_fps`: the period stretches
to twice the last analysis's executor time (queueing included). When the detector threads
are the bottleneck, every session then asks for less at once, and the queue, which is
what makes alerts late, stays short instead of everyone waiting in it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from detectors.base import FrameAnalysis
from media.consumer import ReaderAndWorker

logger = logging.getLogger(__name__)

__all__ = ["AnalyzeFrame", "OnAnalysis", "VideoSampler", "VideoStats"]

BACKOFF = 2.0
"""Under load the period is this many times the last analysis's executor time."""

AnalyzeFrame = Callable[[np.ndarray, float], FrameAnalysis]
"""(frame as I420 planes stacked, (h * 3 / 2, w) uint8, arrival time on `time.monotonic()`)
-> analysis. Runs in the executor; it must be thread-safe with respect to other sessions.
I420 is what the decoder produces: half the bytes of BGR and no conversion here
(`detectors.pipeline.to_bgr` converts where the pixels are used)."""

OnAnalysis = Callable[[FrameAnalysis], Awaitable[None]]
"""Awaited on the event loop with each analysis, in order."""


@dataclass(slots=True)
class VideoStats:
    """Counters for one sampler (benchmarks, health checks)."""

    frames_received: int = 0
    """Frames read off the track."""
    frames_analysed: int = 0
    """Frames whose analysis completed (errors not counted)."""
    analysis_errors: int = 0
    """Analyses that raised; each was logged."""
    last_frame_at: float | None = None
    """`time.monotonic()` when the newest frame arrived: staleness means a frozen camera."""
    last_analysed_ts: float | None = None
    """Arrival time of the newest analysed frame."""
    last_analysis_s: float | None = None
    """Executor time of the last analysis, conversion to BGR included."""
    last_latency_s: float | None = None
    """From the analysed frame's arrival to its analysis being ready."""
    period_s: float = 0.0
    """Seconds between two samples now: 1 / analysis_fps, longer under load."""


class VideoSampler(ReaderAndWorker):
    """Reads one video track at full rate and analyses its newest frame `analysis_fps` times
    a second. Follows aiortc's sink shape: `start(track)`, then `await stop()`."""

    kind = "video"
    _worker_label = "analysis"

    def __init__(
        self,
        analyze: AnalyzeFrame,
        on_analysis: OnAnalysis,
        executor: Executor,
        *,
        analysis_fps: float = 2.0,
        min_analysis_fps: float | None = None,
        name: str = "video",
    ) -> None:
        """`min_analysis_fps`: the slowest rate load may bring it to (None: never slower
        than `analysis_fps`)."""
        if analysis_fps <= 0 or (min_analysis_fps is not None and min_analysis_fps <= 0):
            raise ValueError("analysis_fps and min_analysis_fps must be positive")
        self._analyze = analyze
        self._on_analysis = on_analysis
        self._executor = executor
        self._period = 1.0 / analysis_fps
        self._slowest = 1.0 / min(analysis_fps, min_analysis_fps or analysis_fps)
        self._name = name
        self._stats = VideoStats(period_s=self._period)
        self._latest: tuple[VideoFrame, float] | None = None
        self._wake = asyncio.Event()
        self._track_ended = False

    @property
    def stats(self) -> VideoStats:
        """A snapshot of the counters."""
        return replace(self._stats)

    async def _read(self, track: MediaStreamTrack) -> None:
        # Never awaits anything but recv(): this loop must keep up with the stream.
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if not isinstance(frame, VideoFrame):
                    continue
                self._latest = (frame, now)  # the previous frame, if unanalysed, is dropped
                self._stats.frames_received += 1
                self._stats.last_frame_at = now
                self._wake.set()
        except MediaStreamError:
            logger.info("%s: track ended after %d frames", self._name, self._stats.frames_received)
        finally:
            self._track_ended = True
            self._wake.set()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        next_at: float | None = None  # when the next sample is due; None before the first
        while True:
            if self._latest is None:
                if self._track_ended:
                    return
                self._wake.clear()
                await self._wake.wait()  # set by the reader on each frame and at the end
                continue
            delay = 0.0 if next_at is None else next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # Only this task empties _latest, so it still holds a frame: the newest one.
            item, self._latest = self._latest, None
            assert item is not None
            # Next sample one period later, or right away if analysis is behind.
            now = time.monotonic()
            period = self._stats.period_s
            next_at = now + period if next_at is None else max(next_at + period, now)
            frame, ts = item
            started = time.monotonic()
            try:
                result = await loop.run_in_executor(self._executor, self._run, frame, ts)
            except Exception:
                self._stats.analysis_errors += 1
                logger.exception("%s: analysis of the frame at %.3f failed", self._name, ts)
                continue
            done = time.monotonic()
            self._stats.frames_analysed += 1
            self._stats.last_analysed_ts = ts
            self._stats.last_analysis_s = done - started
            self._stats.last_latency_s = done - ts
            self._stats.period_s = min(self._slowest, max(self._period, BACKOFF * (done - started)))
            try:
                await self._on_analysis(result)
            except Exception:
                logger.exception("%s: on_analysis failed", self._name)

    def _run(self, frame: VideoFrame, ts: float) -> FrameAnalysis:
        # In the worker: even the plane copy stays off the loop.
        return self._analyze(frame.to_ndarray(format="yuv420p"), ts)
