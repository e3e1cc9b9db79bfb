"""Voice activity: silero VAD (v5+ ONNX model) run with onnxruntime directly.

The model takes 512-sample chunks of 16 kHz audio preceded by the last 64 samples of the
previous chunk (its "context"), plus a recurrent state of shape (2, 1, 128), and returns
the speech probability and the next state. This mirrors silero_vad's own OnnxWrapper,
which we cannot import (it needs torch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnxruntime as ort

from core.kinds import AlertKind
from detectors.base import Observation
from detectors.model_files import SILERO_VAD, model_path

SAMPLE_RATE = 16_000
CHUNK = 512  # 32 ms: the only chunk size the model takes at 16 kHz
CONTEXT = 64


class SileroVad:
    """The loaded ONNX session; holds no stream state, so one per thread serves many
    streams (`VadStream` keeps each stream's state)."""

    def __init__(self) -> None:
        opts = ort.SessionOptions()
        # Parallelism comes from sessions in worker threads, not from inside one model.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path(SILERO_VAD)), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def run(self, chunk_with_context: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        """(576,) float32 samples and (2, 1, 128) state -> (probability, next state)."""
        prob, new_state = self._session.run(
            None,
            {"input": chunk_with_context[np.newaxis, :], "state": state, "sr": self._sr},
        )
        return float(np.asarray(prob).reshape(-1)[0]), np.asarray(new_state, dtype=np.float32)


class Resampler:
    """Streaming resampler to 16 kHz: windowed-sinc low-pass, then linear interpolation
    (or, when the rates divide, the low-pass computed only at the kept samples: 48 kHz
    browser audio costs ~0.3 ms per 0.5 s, a third of the general path).

    Stateful so that WebRTC frames join without clicks. Good enough for VAD (which only
    needs the speech band), not meant for listening.
    """

    def __init__(self, in_rate: int, out_rate: int = SAMPLE_RATE, taps: int = 63) -> None:
        if in_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {in_rate}")
        self.in_rate, self.out_rate = in_rate, out_rate
        self.step = in_rate / out_rate
        if in_rate > out_rate:
            # Cut-off a little under the new Nyquist frequency (in cycles per input sample).
            cutoff = 0.45 * out_rate / in_rate
            n = np.arange(taps) - (taps - 1) / 2
            kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
            self._kernel: np.ndarray | None = (kernel / kernel.sum()).astype(np.float32)
            self._history = np.zeros(taps - 1, dtype=np.float32)
        else:
            self._kernel = None
            self._history = np.zeros(0, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)  # filtered, not yet consumed
        self._pos = 0.0  # position of the next output sample within _pending
        whole = in_rate % out_rate == 0 and self._kernel is not None
        self._factor = in_rate // out_rate if whole else 0

    def process(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if self.in_rate == self.out_rate:
            return x
        if self._factor:
            return self._decimate(x)
        if self._kernel is not None:
            padded = np.concatenate([self._history, x])
            filtered = np.convolve(padded, self._kernel, mode="valid").astype(np.float32)
            self._history = padded[len(padded) - len(self._history) :]
        else:
            filtered = x
        buf = np.concatenate([self._pending, filtered])
        if len(buf) < 2:
            self._pending = buf
            return np.zeros(0, dtype=np.float32)
        count = max(0, math.floor((len(buf) - 1 - self._pos) / self.step) + 1)
        positions = self._pos + self.step * np.arange(count)
        out = np.interp(positions, np.arange(len(buf)), buf).astype(np.float32)
        next_pos = self._pos + self.step * count
        drop = min(int(next_pos), len(buf) - 1)
        self._pending = buf[drop:]
        self._pos = next_pos - drop
        return out

    def _decimate(self, x: np.ndarray) -> np.ndarray:
        """Every `factor`-th sample of the low-passed stream (same output as `process`'s
        general path, without filtering the samples it would drop)."""
        assert self._kernel is not None
        padded = np.concatenate([self._history, self._pending, x])
        if len(padded) < len(self._kernel):
            self._history, self._pending = padded, np.zeros(0, dtype=np.float32)
            return np.zeros(0, dtype=np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(padded, len(self._kernel))
        out = (windows[:: self._factor] @ self._kernel[::-1]).astype(np.float32)
        used = len(out) * self._factor  # input samples consumed as window starts
        rest = padded[used:]
        keep = len(self._history)
        self._history, self._pending = rest[:keep], rest[keep:]
        return out


def to_mono_float(pcm: np.ndarray, channels: int = 1) -> np.ndarray:
    """Mono float32 in [-1, 1] from int16/float PCM.

    `pcm` is either 1-D interleaved (`channels` samples per frame) or 2-D planar with
    shape (channels, samples).
    """
    a = np.asarray(pcm)
    if a.dtype == np.int16:
        a = a.astype(np.float32) / 32768.0
    elif a.dtype == np.int32:
        a = a.astype(np.float32) / 2147483648.0
    else:
        a = a.astype(np.float32)
    if a.ndim == 2:
        return a.mean(axis=0) if a.shape[0] > 1 else a[0]
    if channels > 1:
        usable = len(a) - len(a) % channels
        return a[:usable].reshape(-1, channels).mean(axis=1)
    return a


def pcm_from_frame(frame: Any) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate) from a PyAV `AudioFrame` (what aiortc yields).

    Packed frames (e.g. Opus decoded as s16 stereo) come as one interleaved row;
    planar ones as one row per channel.
    """
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        return to_mono_float(data), int(frame.sample_rate)
    return to_mono_float(data.reshape(-1), channels), int(frame.sample_rate)


class VoiceActivityDetector:
    """Per audio stream: feed PCM as it arrives, get one SPEECH observation per window.

    `threshold` applies to the mean speech probability over the window (~0.32 s by
    default, ten model chunks). `hangover` keeps a speech window active for that many
    seconds after the last speech: people pause between phrases (measured on the real clip:
    0.3-0.7 s), and a conversation with pauses is still sustained speech.

    A chunk quieter than `silence_dbfs` (RMS, relative to full scale) counts as probability
    0 without running the model: a quiet room costs no inference. Speech in the real clip
    sits at -31 dBFS (median of 32 ms chunks), its pauses at -60; a browser's echo
    cancellation and noise suppression bring a silent room near -60 or below.
    """

    def __init__(
        self,
        vad: SileroVad | None = None,
        threshold: float = 0.5,
        window_chunks: int = 10,
        hangover: float = 1.0,
        silence_dbfs: float = -55.0,
    ) -> None:
        self._vad = vad
        self.threshold = threshold
        self.window_chunks = window_chunks
        self.hangover = hangover
        self.silence_rms = 10 ** (silence_dbfs / 20)
        self.chunks_skipped = 0
        """Model chunks taken as silence without inference (for tests and benchmarks)."""
        self.reset()

    def reset(self) -> None:
        """Forget the stream (e.g. after a gap or a new track)."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_ts = 0.0
        self._probs: list[float] = []
        self._resampler: Resampler | None = None
        self._last_speech_ts: float | None = None

    def feed(
        self, pcm: np.ndarray, sample_rate: int, ts: float, channels: int = 1
    ) -> list[Observation]:
        """Add audio whose first sample was captured at `ts` (session clock, seconds).

        Returns the observations for every window completed by this audio (often none,
        sometimes one, more for long inputs). Each observation's ts is the window's end.
        """
        mono = to_mono_float(pcm, channels)
        if self._resampler is None or self._resampler.in_rate != sample_rate:
            self._resampler = Resampler(sample_rate)
        audio = self._resampler.process(mono)
        # Re-anchor the clock on every feed so dropped packets do not accumulate drift.
        self._buffer_ts = ts - len(self._buffer) / SAMPLE_RATE
        self._buffer = np.concatenate([self._buffer, audio])
        vad = self._vad
        if vad is None:
            from detectors.models import shared_models

            vad = shared_models().vad
        observations = []
        offset = 0
        while len(self._buffer) - offset >= CHUNK:
            chunk = self._buffer[offset : offset + CHUNK]
            if float(np.sqrt(np.mean(chunk * chunk))) < self.silence_rms:
                # What the model's state would forget over silence anyway.
                prob, self._state = 0.0, np.zeros_like(self._state)
                self.chunks_skipped += 1
            else:
                prob, self._state = vad.run(np.concatenate([self._context, chunk]), self._state)
            self._context = chunk[-CONTEXT:]
            offset += CHUNK
            self._probs.append(prob)
            if len(self._probs) >= self.window_chunks:
                mean = float(np.mean(self._probs))
                self._probs.clear()
                window_end = self._buffer_ts + offset / SAMPLE_RATE
                if mean >= self.threshold:
                    self._last_speech_ts = window_end
                last = self._last_speech_ts
                active = last is not None and window_end - last <= self.hangover
                observations.append(
                    Observation(
                        kind=AlertKind.SPEECH,
                        active=active,
                        ts=window_end,
                        confidence=mean,
                        message=f"speech probability {mean:.2f}",
                    )
                )
        self._buffer = self._buffer[offset:]
        self._buffer_ts += offset / SAMPLE_RATE
        return observations
