"""Voice activity with silero VAD on real speech, silence and noise."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from core.kinds import AlertKind
from detectors.base import Observation
from detectors.models import shared_models
from detectors.pipeline import AudioAnalyzer
from detectors.voice import Resampler, SileroVad, VoiceActivityDetector

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return shared_models().vad


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    with wave.open(str(DATA / "speech_en_8s.wav")) as f:
        assert f.getframerate() == 16_000 and f.getnchannels() == 1
        return np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)


def feed_in_frames(
    detector: VoiceActivityDetector, pcm: np.ndarray, rate: int, frame: int
) -> list[Observation]:
    """Feed like WebRTC does: 20 ms frames, each stamped with its start time."""
    out: list[Observation] = []
    for start in range(0, len(pcm), frame):
        out += detector.feed(pcm[start : start + frame], rate, start / rate)
    return out


def active_share(observations: list[Observation]) -> float:
    return float(np.mean([o.active for o in observations]))


def test_speech_is_mostly_active(vad: SileroVad, speech: np.ndarray) -> None:
    obs = feed_in_frames(VoiceActivityDetector(vad), speech, 16_000, 320)
    assert len(obs) == 25  # 8 s in windows of 10 x 32 ms
    assert all(o.kind is AlertKind.SPEECH for o in obs)
    assert active_share(obs) > 0.6
    assert all(0.0 <= o.confidence <= 1.0 for o in obs)
    ts = [o.ts for o in obs]
    assert ts == sorted(ts) and abs(ts[0] - 0.32) < 0.01 and ts[-1] <= 8.0


def test_silence_is_inactive(vad: SileroVad) -> None:
    obs = feed_in_frames(VoiceActivityDetector(vad), np.zeros(16_000 * 3, np.int16), 16_000, 320)
    assert obs and active_share(obs) == 0.0


def test_white_noise_is_mostly_inactive(vad: SileroVad) -> None:
    rng = np.random.default_rng(0)
    noise = np.clip(rng.normal(0, 4000, 16_000 * 4), -32768, 32767).astype(np.int16)
    obs = feed_in_frames(VoiceActivityDetector(vad), noise, 16_000, 320)
    assert active_share(obs) < 0.1


def test_48khz_stereo_av_frames_work(vad: SileroVad, speech: np.ndarray) -> None:
    # What aiortc hands over for a browser microphone: 48 kHz stereo s16 frames of 20 ms.
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=48_000, frame_size=960)
    mono = av.AudioFrame.from_ndarray(speech[np.newaxis, :], format="s16", layout="mono")
    mono.sample_rate = 16_000
    frames = list(resampler.resample(mono)) + list(resampler.resample(None))
    assert frames[0].sample_rate == 48_000 and len(frames[0].layout.channels) == 2
    analyzer = AudioAnalyzer(vad)
    obs: list[Observation] = []
    for i, frame in enumerate(frames):
        obs += analyzer.feed_frame(frame, i * 0.02)
    assert len(obs) >= 23
    assert active_share(obs) > 0.6
    # Same answer as at 16 kHz, window for window, give or take the resampling.
    direct = feed_in_frames(VoiceActivityDetector(vad), speech, 16_000, 320)
    agree = np.mean([a.active == b.active for a, b in zip(obs, direct, strict=False)])
    assert agree > 0.8


def test_interleaved_int16_stereo_at_48khz(vad: SileroVad, speech: np.ndarray) -> None:
    up = np.interp(np.arange(len(speech) * 3) / 3, np.arange(len(speech)), speech)
    stereo = np.repeat(up.astype(np.int16), 2)  # L R L R ...
    detector = VoiceActivityDetector(vad)
    obs = []
    for start in range(0, len(stereo), 1920):
        obs += detector.feed(stereo[start : start + 1920], 48_000, start / 96_000, channels=2)
    assert active_share(obs) > 0.6


def test_resampler_keeps_speech_band_and_drops_aliases() -> None:
    rate = 48_000
    t = np.arange(rate) / rate
    resampler = Resampler(rate)
    low = np.concatenate(
        [resampler.process(c) for c in np.array_split(np.sin(2 * np.pi * 1000 * t), 50)]
    )
    assert abs(len(low) - 16_000) <= 2
    spectrum = np.abs(np.fft.rfft(low[1000:9000]))
    assert abs(np.argmax(spectrum) * 16_000 / 8000 - 1000) < 5  # still a 1 kHz tone
    high = Resampler(rate).process(np.sin(2 * np.pi * 12_000 * t))  # above 8 kHz Nyquist
    assert np.abs(high[200:]).max() < 0.05


def test_whole_factor_resampling_matches_the_general_path() -> None:
    # 48 -> 16 kHz takes the fast path; 48 -> 16.000001 kHz (same filter) the general one.
    rate = 48_000
    signal = np.random.default_rng(1).normal(0, 0.3, rate).astype(np.float32)
    pieces = np.array_split(signal, np.cumsum(np.random.default_rng(2).integers(100, 3000, 40)))
    fast, general = Resampler(rate), Resampler(rate)
    general._factor = 0  # the same filter, through the interpolating path
    out_fast = np.concatenate([fast.process(p) for p in pieces])
    out_general = np.concatenate([general.process(p) for p in pieces])
    n = min(len(out_fast), len(out_general))
    assert n > 15_900
    np.testing.assert_allclose(out_fast[:n], out_general[:n], atol=1e-5)


def test_a_quiet_room_runs_no_inference(vad: SileroVad, speech: np.ndarray) -> None:
    # The load benchmark's microphone: a quiet room at -61 dBFS, then speech.
    room = np.random.default_rng(5).normal(0, 30, 16_000 * 2).astype(np.int16)
    detector = VoiceActivityDetector(vad)
    quiet = feed_in_frames(detector, room, 16_000, 320)
    assert quiet and active_share(quiet) == 0.0
    assert detector.chunks_skipped == len(room) // 512  # every model chunk skipped
    loud = feed_in_frames(detector, speech, 16_000, 320)
    assert active_share(loud) > 0.6  # speech still runs the model and is heard
    assert detector.chunks_skipped < len(room) // 512 + len(speech) // 512 / 2


def test_pauses_between_phrases_do_not_break_sustained_speech(vad: SileroVad) -> None:
    with wave.open(str(DATA / "clip_speech.wav")) as f:  # a part of the clip with pauses
        speech = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
    seconds = len(speech) / 16_000
    without = feed_in_frames(VoiceActivityDetector(vad, hangover=0.0), speech, 16_000, 320)
    bridged = feed_in_frames(VoiceActivityDetector(vad, hangover=1.0), speech, 16_000, 320)
    assert not all(o.active for o in without[1:])  # the real clip has pauses...
    assert all(o.active for o in bridged[1:])  # ...that a 1 s hangover bridges
    # Hangover is not a latch: speech that stops is inactive one hangover later.
    tail = feed_in_frames(
        VoiceActivityDetector(vad),
        np.concatenate([speech, np.zeros(16_000 * 2, np.int16)]),
        16_000,
        320,
    )
    assert not tail[-1].active and tail[-1].ts - seconds > 1.0
