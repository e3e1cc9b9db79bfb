"""Cutting a live audio track into short mono chunks for the audio detectors.

Browsers send Opus, which aiortc decodes to 48 kHz stereo in 20-60 ms frames. The reader
task takes every frame off aiortc's unbounded queue, keeps its first channel (a browser's
microphone is mono; Opus carries it as two equal channels) at the track's own rate and cuts
chunks of `chunk_seconds`. Nothing else happens on the event loop: resampling to what a
model wants belongs to `process`, which the processing task calls in the executor with
each chunk in order, one at a time. If processing falls behind, at most
`max_backlog_seconds` of chunks wait; older ones are dropped, so memory stays bounded and
what is processed stays recent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from detectors.base import Observation
from media.consumer import ReaderAndWorker

logger = logging.getLogger(__name__)

__all__ = ["AudioSampler", "AudioStats", "OnObservations", "ProcessAudio"]

ProcessAudio = Callable[[np.ndarray, int, float], list[Observation]]
"""(mono chunk as 1-D int16, its sample rate, `time.monotonic()` when the chunk's last frame
arrived) -> observations. Runs in the executor."""

OnObservations = Callable[[list[Observation]], Awaitable[None]]
"""Awaited on the event loop with each chunk's observations, in order."""


@dataclass(slots=True)
class AudioStats:
    """Counters for one sampler (benchmarks, health checks)."""

    frames_received: int = 0
    """Audio frames read off the track (20 ms each from a browser)."""
    chunks_processed: int = 0
    chunks_dropped: int = 0
    """Chunks thrown away unprocessed because processing was behind."""
    processing_errors: int = 0
    last_frame_at: float | None = None
    """`time.monotonic()` when the newest frame arrived."""
    last_processing_s: float | None = None
    last_latency_s: float | None = None
    """From the processed chunk's completion to its observations being ready."""


class AudioSampler(ReaderAndWorker):
    """Reads one audio track and processes it as mono chunks, newest-biased.

    Same shape as `VideoSampler`: `start(track)`, then `await stop()`.
    """

    kind = "audio"
    _worker_label = "process"

    def __init__(
        self,
        process: ProcessAudio,
        on_observations: OnObservations,
        executor: Executor,
        *,
        chunk_seconds: float = 0.5,
        max_backlog_seconds: float = 2.0,
        name: str = "audio",
    ) -> None:
        if chunk_seconds <= 0 or max_backlog_seconds < chunk_seconds:
            raise ValueError("need 0 < chunk_seconds <= max_backlog_seconds")
        self._process = process
        self._on_observations = on_observations
        self._executor = executor
        self._chunk_seconds = chunk_seconds
        self._name = name
        self._stats = AudioStats()
        self._rate = 0  # of the frames in `_pieces`
        self._pieces: list[np.ndarray] = []  # less than one chunk, waiting for more
        self._buffered = 0
        self._ready: deque[tuple[np.ndarray, int, float]] = deque(
            maxlen=max(1, int(max_backlog_seconds / chunk_seconds))
        )
        self._wake = asyncio.Event()
        self._track_ended = False

    @property
    def stats(self) -> AudioStats:
        """A snapshot of the counters."""
        return replace(self._stats)

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if not isinstance(frame, av.AudioFrame):
                    continue
                self._stats.frames_received += 1
                self._stats.last_frame_at = now
                self._add(first_channel(frame), frame.sample_rate, now)
        except MediaStreamError:
            logger.info("%s: track ended after %d frames", self._name, self._stats.frames_received)
        finally:
            self._track_ended = True
            self._wake.set()

    def _add(self, samples: np.ndarray, rate: int, now: float) -> None:
        if rate != self._rate:  # a new stream: what is held belongs to the old one
            self._pieces, self._buffered, self._rate = [], 0, rate
        self._pieces.append(samples)
        self._buffered += samples.size
        chunk = round(self._chunk_seconds * rate)
        if self._buffered < chunk:
            return
        joined = np.concatenate(self._pieces)
        cut = (joined.size // chunk) * chunk
        for start in range(0, cut, chunk):
            if len(self._ready) == self._ready.maxlen:
                self._stats.chunks_dropped += 1  # deque drops the oldest on append
            self._ready.append((joined[start : start + chunk], rate, now))
        rest = joined[cut:]
        self._pieces = [rest] if rest.size else []
        self._buffered = rest.size
        self._wake.set()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._ready:
                chunk, rate, ts = self._ready.popleft()
                started = time.monotonic()
                try:
                    observations = await loop.run_in_executor(
                        self._executor, self._process, chunk, rate, ts
                    )
                except Exception:
                    self._stats.processing_errors += 1
                    logger.exception("%s: processing the chunk at %.3f failed", self._name, ts)
                    continue
                done = time.monotonic()
                self._stats.chunks_processed += 1
                self._stats.last_processing_s = done - started
                self._stats.last_latency_s = done - ts
                try:
                    await self._on_observations(observations)
                except Exception:
                    logger.exception("%s: on_observations failed", self._name)
            if self._track_ended:
                return


def first_channel(frame: av.AudioFrame) -> np.ndarray:
    """The frame's first channel as a new 1-D int16 array (aiortc's Opus decoder gives
    packed s16; planar and float formats are handled too)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    mono = data[0] if frame.format.is_planar else data.reshape(-1, channels)[:, 0]
    if mono.dtype.kind == "f":
        mono = np.clip(mono * 32768.0, -32768, 32767)
    return mono.astype(np.int16)
