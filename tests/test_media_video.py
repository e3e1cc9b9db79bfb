"""VideoSampler on a local clip track (no network): rate, one analysis in flight, failures."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack

from detectors.base import FrameAnalysis
from media.video import VideoSampler
from tests.clips import Clip, ClipVideoTrack, WavAudioTrack

TWO_SECONDS = ((0, 2, "candidate"),)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="analysis") as pool:
        yield pool


class Analyses:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.frames: list[tuple[tuple[int, ...], str, float]] = []
        self.delivered: list[FrameAnalysis] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def analyze(self, frame: np.ndarray, ts: float) -> FrameAnalysis:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            self.frames.append((frame.shape, str(frame.dtype), ts))
            return FrameAnalysis(ts=ts, observations=())
        finally:
            with self.lock:
                self.in_flight -= 1

    async def on_analysis(self, analysis: FrameAnalysis) -> None:
        self.delivered.append(analysis)


async def play(sampler: VideoSampler, track: ClipVideoTrack) -> None:
    sampler.start(track)
    async with asyncio.timeout(track.clip.duration + 3):
        await sampler.wait_ended()


async def test_reads_every_frame_and_analyses_at_the_sampling_rate(
    executor: ThreadPoolExecutor,
) -> None:
    analyses = Analyses()
    sampler = VideoSampler(analyses.analyze, analyses.on_analysis, executor, analysis_fps=5.0)
    track = ClipVideoTrack(Clip(TWO_SECONDS, fps=30))
    started = time.monotonic()
    await play(sampler, track)
    stats = sampler.stats
    assert stats.frames_received == track.sent == 60
    assert 9 <= stats.frames_analysed <= 12, stats
    assert [a.ts for a in analyses.delivered] == [f[2] for f in analyses.frames]
    # 640x480 as the decoder's I420 planes: half the bytes of BGR.
    assert {(shape, dtype) for shape, dtype, _ in analyses.frames} == {((720, 640), "uint8")}
    stamps = [ts for _, _, ts in analyses.frames]
    assert started <= stamps[0] and stamps == sorted(stamps)
    assert stats.last_frame_at is not None and stats.last_frame_at <= time.monotonic()
    assert stats.last_analysis_s is not None and stats.last_analysis_s < 0.1
    assert not sampler.running


async def test_one_analysis_at_a_time_and_frames_skipped_when_slow(
    executor: ThreadPoolExecutor,
) -> None:
    analyses = Analyses(delay=0.3)
    sampler = VideoSampler(analyses.analyze, analyses.on_analysis, executor, analysis_fps=10.0)
    track = ClipVideoTrack(Clip(TWO_SECONDS, fps=30))
    await play(sampler, track)
    stats = sampler.stats
    assert analyses.max_in_flight == 1  # 4 workers free, yet never two analyses at once
    assert stats.frames_received == 60
    assert 5 <= stats.frames_analysed <= 8, stats
    # Each analysis took the newest frame, so a result is at most the analysis it waited
    # for plus its own old (0.3 + 0.3 s), however long the stream runs.
    assert stats.last_latency_s is not None and stats.last_latency_s < 0.3 + 0.3 + 0.1


async def test_under_load_it_slows_down_to_the_floor_not_below(
    executor: ThreadPoolExecutor,
) -> None:
    # Each analysis takes 0.3 s, as when the detector threads are saturated: at 4/s asked
    # and 1/s allowed, the sampler waits 2 x 0.3 s between samples instead of running
    # back to back (which would keep a shared queue full).
    analyses = Analyses(delay=0.3)
    sampler = VideoSampler(
        analyses.analyze, analyses.on_analysis, executor, analysis_fps=4.0, min_analysis_fps=1.0
    )
    await play(sampler, ClipVideoTrack(Clip(((0, 4, "candidate"),), fps=15)))
    stamps = [ts for _, _, ts in analyses.frames]
    gaps = np.diff(stamps)
    assert 0.55 < float(np.median(gaps)) < 0.7, gaps
    assert sampler.stats.period_s == pytest.approx(0.6, abs=0.05)
    # A floor: 1.2 s analyses would stretch it to 2.4 s, but it stays at 1 s.
    slow = Analyses(delay=1.2)
    sampler = VideoSampler(
        slow.analyze, slow.on_analysis, executor, analysis_fps=4.0, min_analysis_fps=1.0
    )
    await play(sampler, ClipVideoTrack(Clip(((0, 1, "candidate"),), fps=15)))
    assert sampler.stats.period_s == 1.0


async def test_failures_are_logged_and_sampling_goes_on(
    executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def analyze(frame: np.ndarray, ts: float) -> FrameAnalysis:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("detector exploded")
        return FrameAnalysis(ts=ts, observations=())

    delivered = 0

    async def on_analysis(analysis: FrameAnalysis) -> None:
        nonlocal delivered
        delivered += 1
        if delivered == 2:
            raise RuntimeError("sink exploded")

    sampler = VideoSampler(analyze, on_analysis, executor, analysis_fps=10.0, name="cam")
    with caplog.at_level(logging.ERROR, logger="media.video"):
        await play(sampler, ClipVideoTrack(Clip(((0, 1, "empty"),), fps=30)))
    stats = sampler.stats
    assert stats.analysis_errors == 1
    assert stats.frames_analysed == calls - 1 >= 6
    assert delivered == stats.frames_analysed
    assert "cam: analysis of the frame at" in caplog.text and "detector exploded" in caplog.text
    assert "cam: on_analysis failed" in caplog.text and "sink exploded" in caplog.text


async def test_stop_returns_at_once_and_delivers_nothing_more(
    executor: ThreadPoolExecutor,
) -> None:
    analyses = Analyses(delay=0.5)
    sampler = VideoSampler(analyses.analyze, analyses.on_analysis, executor)
    track = ClipVideoTrack(Clip(TWO_SECONDS, fps=30), loop=True)
    sampler.start(track)
    await asyncio.sleep(0.2)  # the first analysis is in the executor now
    before = time.monotonic()
    await sampler.stop()
    assert time.monotonic() - before < 0.2
    assert not sampler.running
    await asyncio.sleep(0.5)
    assert analyses.delivered == []
    track.stop()


class BrokenTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def recv(self) -> av.VideoFrame:
        self.calls += 1
        if self.calls > 3:
            raise RuntimeError("decoder went away")
        await asyncio.sleep(0.01)
        return Clip(TWO_SECONDS).video_frame(self.calls)


async def test_reader_crash_is_logged_not_silent(
    executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    analyses = Analyses()
    sampler = VideoSampler(analyses.analyze, analyses.on_analysis, executor, name="cam")
    with caplog.at_level(logging.ERROR, logger="media.video"):
        sampler.start(BrokenTrack())
        async with asyncio.timeout(2):
            await sampler.wait_ended()
    assert "background task cam-reader failed" in caplog.text
    assert "decoder went away" in caplog.text
    assert sampler.stats.frames_received == 3
    # The newest frame was still analysed before the sampler ended.
    assert analyses.delivered[-1].ts == sampler.stats.last_frame_at


async def test_misuse_is_refused(executor: ThreadPoolExecutor) -> None:
    analyses = Analyses()
    with pytest.raises(ValueError, match="analysis rate must be positive"):
        VideoSampler(analyses.analyze, analyses.on_analysis, executor, analysis_fps=0)
    with pytest.raises(ValueError, match="analysis rate must be positive"):
        VideoSampler(analyses.analyze, analyses.on_analysis, executor, still_analysis_fps=0)
    sampler = VideoSampler(analyses.analyze, analyses.on_analysis, executor)
    audio = WavAudioTrack(np.zeros(1600, dtype=np.int16), 16000)
    with pytest.raises(ValueError, match="video track"):
        sampler.start(audio)
    track = ClipVideoTrack(Clip(TWO_SECONDS), loop=True)
    sampler.start(track)
    with pytest.raises(RuntimeError, match="already started"):
        sampler.start(track)
    await sampler.stop()
    await sampler.stop()  # idempotent
    track.stop()


async def test_a_still_picture_is_analysed_once_a_second_and_a_change_at_once(
    executor: ThreadPoolExecutor,
) -> None:
    # 3 samples a second; the candidate sits still (panning 4 px) for 3 s, then leaves.
    analyses = Analyses()
    sampler = VideoSampler(
        analyses.analyze,
        analyses.on_analysis,
        executor,
        analysis_fps=3.0,
        still_analysis_fps=1.0,
    )
    track = ClipVideoTrack(Clip(((0, 3, "candidate"), (3, 5, "empty")), fps=15))
    await play(sampler, track)
    assert track._start is not None
    cut = track._start + 3.0  # when the first empty frame was due
    looked = [a.ts for a in analyses.delivered if not a.repeated]
    assert looked == [ts for _, _, ts in analyses.frames]  # the detectors saw exactly those
    stats = sampler.stats
    assert stats.frames_analysed == len(looked) and stats.frames_repeated > 0
    assert stats.frames_analysed + stats.frames_repeated == len(analyses.delivered)
    # Every sample got an analysis, in order: 3 a second for 5 s.
    stamps = [a.ts for a in analyses.delivered]
    assert stamps == sorted(stamps) and 13 <= len(stamps) <= 16, stamps
    # While still: one look a second (the first frame, then every third sample).
    before = [ts for ts in looked if ts < cut]
    assert 3 <= len(before) <= 4, looked
    assert max(np.diff(before)) < 1.0 + 0.2, looked
    # The empty chair is looked at on the first sample after the cut, not a second later.
    after = [ts for ts in looked if ts >= cut]
    assert after and after[0] - cut < 1 / 3 + 0.15, (after, cut)


async def test_every_sample_is_analysed_without_a_still_rate(
    executor: ThreadPoolExecutor,
) -> None:
    analyses = Analyses()
    sampler = VideoSampler(analyses.analyze, analyses.on_analysis, executor, analysis_fps=3.0)
    await play(sampler, ClipVideoTrack(Clip(((0, 2, "candidate"),), fps=15)))
    assert sampler.stats.frames_repeated == 0
    assert not any(a.repeated for a in analyses.delivered)
    assert 5 <= sampler.stats.frames_analysed <= 7
