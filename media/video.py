"""Sampling a live video track for analysis at a fixed, low rate.

A browser sends 15-30 frames a second; detectors need about 2. The reader task takes every
frame off aiortc's unbounded queue as soon as it is decoded and keeps only the newest one;
the analysis task wakes every `1 / analysis_fps` seconds, takes that newest frame and runs
`analyze` in the executor. One analysis at a time per session: when analysis is slower than
the rate, frames in between are simply never looked at, so neither memory nor latency grows.

A still picture is not analysed again at every sample: when the newest frame shows the
picture last analysed (`media.still`), the last analysis is repeated for it
(`FrameAnalysis.repeat_at`), so the rules keep their time, and the detectors run only
`still_analysis_fps` times a second. Any change of the picture is analysed at the next
sample.

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
from media.still import StillPicture, luma

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
    frames_repeated: int = 0
    """Samples that showed the picture last analysed and got its analysis again."""
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
        still_analysis_fps: float | None = None,
        name: str = "video",
    ) -> None:
        """`min_analysis_fps`: the slowest rate load may bring it to (None: never slower
        than `analysis_fps`). `still_analysis_fps`: how often a picture that does not change
        is analysed all the same (None: every sample is analysed)."""
        rates = (analysis_fps, min_analysis_fps, still_analysis_fps)
        if any(rate is not None and rate <= 0 for rate in rates):
            raise ValueError("every analysis rate must be positive")
        self._analyze = analyze
        self._on_analysis = on_analysis
        self._executor = executor
        self._period = 1.0 / analysis_fps
        self._slowest = 1.0 / min(analysis_fps, min_analysis_fps or analysis_fps)
        self._name = name
        self._stats = VideoStats(period_s=self._period)
        still = still_analysis_fps is not None and still_analysis_fps < analysis_fps
        self._still = StillPicture() if still else None
        self._still_gap = 0.0 if still_analysis_fps is None else 1.0 / still_analysis_fps
        self._last_analysis: FrameAnalysis | None = None
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
        analysed_at = -float("inf")  # when the last frame was sampled that the detectors saw
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
            # Half a period early, so that a still picture is analysed on the sample
            # nearest to `still_gap` after the last, not on the one after that.
            may_repeat = now - analysed_at < self._still_gap - period / 2
            started = time.monotonic()
            try:
                result = await loop.run_in_executor(
                    self._executor, self._run, frame, ts, may_repeat
                )
            except Exception:
                self._stats.analysis_errors += 1
                logger.exception("%s: analysis of the frame at %.3f failed", self._name, ts)
                continue
            if result is None:  # the picture last analysed: its findings, at this frame's time
                assert self._last_analysis is not None
                self._stats.frames_repeated += 1
                await self._deliver(self._last_analysis.repeat_at(ts))
                continue
            done = time.monotonic()
            analysed_at, self._last_analysis = now, result
            self._stats.frames_analysed += 1
            self._stats.last_analysed_ts = ts
            self._stats.last_analysis_s = done - started
            self._stats.last_latency_s = done - ts
            self._stats.period_s = min(self._slowest, max(self._period, BACKOFF * (done - started)))
            await self._deliver(result)

    async def _deliver(self, analysis: FrameAnalysis) -> None:
        try:
            await self._on_analysis(analysis)
        except Exception:
            logger.exception("%s: on_analysis failed", self._name)

    def _run(self, frame: VideoFrame, ts: float, may_repeat: bool) -> FrameAnalysis | None:
        """The frame's analysis, or None when it may be repeated and the picture is still.
        In the worker: even the plane copy and the stillness test stay off the loop."""
        still = self._still
        unchanged = still is not None and still.unchanged(luma(frame))
        if may_repeat and unchanged and self._last_analysis is not None:
            return None
        result = self._analyze(frame.to_ndarray(format="yuv420p"), ts)
        if still is not None:
            still.analysed()
        return result
