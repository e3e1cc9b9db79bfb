"""Cutting a live audio track into short mono 16 kHz chunks for the audio detectors.

Browsers send Opus, which aiortc decodes to 48 kHz stereo in 20 ms frames. The reader task
takes every frame off aiortc's unbounded queue, resamples it to 16 kHz mono (what voice
activity models want; about 20 us a frame, cheap enough for the loop) and cuts chunks of
`chunk_seconds`. The processing task hands chunks in order to `process` in the executor,
one at a time. If processing falls behind, at most `max_backlog_seconds` of chunks wait;
older ones are dropped, so memory stays bounded and what is processed stays recent.
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

__all__ = ["SAMPLE_RATE", "AudioSampler", "AudioStats", "OnObservations", "ProcessAudio"]

SAMPLE_RATE = 16_000
"""Samples per second of every chunk handed to `process`."""

ProcessAudio = Callable[[np.ndarray, float], list[Observation]]
"""(mono chunk, 1-D float32 in [-1, 1) or int16, `time.monotonic()` when the chunk's last
frame arrived) -> observations. Runs in the executor."""

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
    """Reads one audio track and processes it as 16 kHz mono chunks, newest-biased.

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
        as_float: bool = True,
        name: str = "audio",
    ) -> None:
        if chunk_seconds <= 0 or max_backlog_seconds < chunk_seconds:
            raise ValueError("need 0 < chunk_seconds <= max_backlog_seconds")
        self._process = process
        self._on_observations = on_observations
        self._executor = executor
        self._chunk = round(chunk_seconds * SAMPLE_RATE)
        self._as_float = as_float
        self._name = name
        self._stats = AudioStats()
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._pieces: list[np.ndarray] = []  # less than one chunk, waiting for more
        self._buffered = 0
        self._ready: deque[tuple[np.ndarray, float]] = deque(
            maxlen=max(1, int(max_backlog_seconds / chunk_seconds))
        )
        self._wake = asyncio.Event()
        self._track_ended = False

    @property
    def stats(self) -> AudioStats:
        """A snapshot of the counters."""
        return replace(self._stats)

    @property
    def chunk_samples(self) -> int:
        """Samples per chunk."""
        return self._chunk

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if not isinstance(frame, av.AudioFrame):
                    continue
                self._stats.frames_received += 1
                self._stats.last_frame_at = now
                for mono in self._resampler.resample(frame):
                    self._add(mono.to_ndarray().reshape(-1), now)
        except MediaStreamError:
            logger.info("%s: track ended after %d frames", self._name, self._stats.frames_received)
        finally:
            self._track_ended = True
            self._wake.set()

    def _add(self, samples: np.ndarray, now: float) -> None:
        self._pieces.append(samples)
        self._buffered += samples.size
        if self._buffered < self._chunk:
            return
        joined = np.concatenate(self._pieces)
        cut = (joined.size // self._chunk) * self._chunk
        for start in range(0, cut, self._chunk):
            if len(self._ready) == self._ready.maxlen:
                self._stats.chunks_dropped += 1  # deque drops the oldest on append
            self._ready.append((joined[start : start + self._chunk].copy(), now))
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
                chunk, ts = self._ready.popleft()
                started = time.monotonic()
                try:
                    observations = await loop.run_in_executor(self._executor, self._run, chunk, ts)
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

    def _run(self, chunk: np.ndarray, ts: float) -> list[Observation]:
        if self._as_float:
            return self._process(chunk.astype(np.float32) / 32768.0, ts)
        return self._process(chunk, ts)
