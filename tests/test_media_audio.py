"""AudioSampler on local tracks shaped like a browser's (48 kHz stereo Opus output)."""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from core.kinds import AlertKind
from detectors.base import Observation
from media.audio import AudioSampler
from tests.clips import Clip, ClipVideoTrack, speech


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="audio") as pool:
        yield pool


class BrowserLikeTrack(MediaStreamTrack):
    """Plays 16 kHz mono samples as aiortc's Opus decoder delivers them: 48 kHz stereo s16
    in 20 ms frames. Unpaced (as fast as it is read) unless `realtime`."""

    kind = "audio"

    def __init__(self, samples: np.ndarray, *, realtime: bool = False) -> None:
        super().__init__()
        # 16 kHz -> 48 kHz by repetition is crude but keeps the signal's level and shape.
        self.samples = np.repeat(np.asarray(samples, dtype=np.int16), 3)
        self.realtime = realtime
        self.sent = 0
        self.start = time.monotonic()

    async def recv(self) -> av.AudioFrame:
        offset = self.sent * 960
        if offset + 960 > self.samples.size:
            self.stop()
            raise MediaStreamError
        if self.realtime:
            await asyncio.sleep(max(0.0, self.start + self.sent * 0.02 - time.monotonic()))
        else:
            await asyncio.sleep(0)
        mono = self.samples[offset : offset + 960]
        stereo = np.column_stack([mono, mono]).reshape(1, -1)  # packed: L R L R ...
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = 48_000
        frame.pts = offset
        frame.time_base = fractions.Fraction(1, 48_000)
        self.sent += 1
        return frame


async def run(sampler: AudioSampler, track: MediaStreamTrack) -> None:
    sampler.start(track)
    async with asyncio.timeout(10):
        await sampler.wait_ended()


async def test_chunks_are_half_seconds_of_mono_at_the_track_rate(
    executor: ThreadPoolExecutor,
) -> None:
    source, rate = speech(3.1)
    assert rate == 16_000
    chunks: list[tuple[np.ndarray, float]] = []
    delivered: list[list[Observation]] = []

    def process(samples: np.ndarray, rate: int, ts: float) -> list[Observation]:
        assert rate == 48_000
        chunks.append((samples, ts))
        return [Observation(AlertKind.SPEECH, active=True, ts=ts)]

    async def on_observations(observations: list[Observation]) -> None:
        delivered.append(observations)

    # The track is unpaced (all 3 s at once): a backlog that holds it all, so none is dropped.
    sampler = AudioSampler(process, on_observations, executor, max_backlog_seconds=5.0)
    track = BrowserLikeTrack(source)
    await run(sampler, track)
    assert len(chunks) == 6 and len(delivered) == 6
    assert all(c.dtype == np.int16 and c.shape == (24_000,) for c, _ in chunks)
    stamps = [ts for _, ts in chunks]
    assert stamps == sorted(stamps)
    # It is the same speech, one channel of it, sample for sample (the track repeats each
    # 16 kHz sample three times).
    for index, (chunk, _) in enumerate(chunks):
        np.testing.assert_array_equal(chunk[::3], source[index * 8000 : (index + 1) * 8000])
    stats = sampler.stats
    assert stats.frames_received == track.sent == 155
    assert stats.chunks_processed == 6 and stats.chunks_dropped == 0


async def test_slow_processing_drops_old_audio_keeps_recent(executor: ThreadPoolExecutor) -> None:
    # 20 half-second chunks, each a distinct constant level, all arriving at once.
    levels = np.repeat(np.arange(1, 22, dtype=np.int16) * 1000, 8000)[: 20 * 8000 + 1600]
    seen: list[int] = []

    def process(samples: np.ndarray, rate: int, ts: float) -> list[Observation]:
        time.sleep(0.1)
        seen.append(round(float(np.median(samples))))
        return []

    async def on_observations(observations: list[Observation]) -> None:
        pass

    sampler = AudioSampler(
        process,
        on_observations,
        executor,
        chunk_seconds=0.5,
        max_backlog_seconds=1.0,
    )
    await run(sampler, BrowserLikeTrack(levels))
    stats = sampler.stats
    assert stats.chunks_processed + stats.chunks_dropped == 20
    assert stats.chunks_dropped >= 14
    assert seen[-1] == 20_000  # the newest audio was processed
    assert seen == sorted(seen)  # in order, oldest dropped


async def test_processing_errors_are_logged_and_do_not_stop_it(
    executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def process(samples: np.ndarray, rate: int, ts: float) -> list[Observation]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("model exploded")
        return []

    async def on_observations(observations: list[Observation]) -> None:
        pass

    source, _ = speech(2.1)
    sampler = AudioSampler(process, on_observations, executor, max_backlog_seconds=5.0, name="mic")
    with caplog.at_level(logging.ERROR, logger="media.audio"):
        await run(sampler, BrowserLikeTrack(source))
    assert sampler.stats.processing_errors == 1 and sampler.stats.chunks_processed == 3
    assert "mic: processing the chunk at" in caplog.text and "model exploded" in caplog.text


async def test_realtime_latency_and_stop(executor: ThreadPoolExecutor) -> None:
    source, _ = speech(10.0)
    latencies: list[float] = []

    def process(samples: np.ndarray, rate: int, ts: float) -> list[Observation]:
        return [Observation(AlertKind.TALKING, active=False, ts=ts)]

    async def on_observations(observations: list[Observation]) -> None:
        latencies.append(time.monotonic() - observations[0].ts)

    sampler = AudioSampler(process, on_observations, executor)
    track = BrowserLikeTrack(source, realtime=True)
    sampler.start(track)
    await asyncio.sleep(1.2)
    await sampler.stop()
    count = len(latencies)
    assert count == 2 and max(latencies) < 0.1
    await asyncio.sleep(0.6)
    assert len(latencies) == count  # nothing after stop()
    track.stop()


async def test_misuse_is_refused(executor: ThreadPoolExecutor) -> None:
    def process(samples: np.ndarray, rate: int, ts: float) -> list[Observation]:
        return []

    async def on_observations(observations: list[Observation]) -> None:
        pass

    with pytest.raises(ValueError):
        AudioSampler(process, on_observations, executor, chunk_seconds=1.0, max_backlog_seconds=0.5)
    sampler = AudioSampler(process, on_observations, executor)
    video = ClipVideoTrack(Clip(((0, 1, "empty"),)))
    with pytest.raises(ValueError, match="audio track"):
        sampler.start(video)
    await sampler.stop()
