"""The scripted candidate of the load benchmark: one clip, its events and the exam rules.

Every simulated candidate plays the same looping clip made from real photos (tests/clips.py),
640x480 at 15 fps, and a quiet room on the microphone (the server decodes it and runs voice
activity detection on it all the same). Each loop holds one event of each kind at a known
clip time; `EVENTS` says when, and `RULES` is the exam's
`rules_overrides`, so the expected alert time is `event + debounce` (`Event.debounce`).

The media is encoded once per process (VP8 with a keyframe every `GOP` frames, Opus in
20 ms packets, JPEG for the upload path) and replayed into every peer; see bench/replay.py.
"""

from __future__ import annotations

import fractions
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alerts.presets import PRESETS  # noqa: E402
from core.kinds import AlertKind  # noqa: E402
from tests.clips import VIDEO_CLOCK, Clip  # noqa: E402

FPS = 15
GOP = 30
"""A keyframe every 2 s: a replayed stream cannot answer a keyframe request (PLI), so a
lost packet heals at the next keyframe at the latest."""
VIDEO_BITRATE = 500_000
"""What the server asks of browsers (`CaptureProfile.video_kbps`)."""
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960
"""20 ms Opus packets, like a browser."""
JPEG_QUALITY = 80

CALM = float(os.environ.get("BENCH_CALM_SECONDS", "0"))
"""Seconds of the plain candidate added to the end of each loop (env BENCH_CALM_SECONDS,
read by load.py and the generators alike). 0: the dense loop, an event every ~8 s per
candidate, far more than a real exam; identity checks, which events trigger, cost the most."""

# One loop of the clip, 26 s (+ CALM). Each event comes out of the plain candidate, so each
# alert has ended (end_after) before the next event of the same kind. Each event lasts at
# least 2 s longer than its rule's debounce (at 2 analyses a second a 1 s margin is lost to
# sampling now and then), and the swap lasts several identity rechecks.
SCENE = (
    (0, 6, "candidate"),
    (6, 11, "empty"),  # the face leaves (no_face: 3 s)
    (11, 14, "candidate"),
    (14, 17, "two_faces"),  # a second face enters (multiple_faces: 1 s)
    (17, 20, "candidate"),
    (20, 26, "other_person"),  # another person replaces the candidate (face_mismatch)
) + (((26, 26 + CALM, "candidate"),) if CALM > 0 else ())
PERIOD = 26.0 + CALM

# The "normal" preset as deployments get it (a swap needs 3 mismatching identity checks
# over its 2 s). Looking away and talking stay on: they must not fire on this clip.
RULES: dict[str, dict[str, float | int | bool]] = {}


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    """The alert kind the event must raise."""
    at: float
    """Clip seconds when the event starts (first frame or sample showing it)."""
    debounce: float
    """The rule's `start_after` for that kind under `RULES`: the earliest possible alert."""


def _start_after(kind: str) -> float:
    """The normal preset's debounce for `kind`: the earliest its alert can come."""
    return PRESETS["normal"][AlertKind(kind)].start_after


EVENTS = tuple(
    Event(kind, at, _start_after(kind))
    for kind, at in (("no_face", 6.0), ("multiple_faces", 14.0), ("face_mismatch", 20.0))
)
ALERT_WINDOW = 10.0
"""An alert of the event's kind arriving up to this long after event + debounce is a hit
(earlier than the event by more than 0.5 s: not this event)."""


def clip(fps: float = FPS) -> Clip:
    return Clip(SCENE, fps=fps)


def encode_video(
    fps: float = FPS, size: tuple[int, int] = (640, 480), bitrate: int = VIDEO_BITRATE
) -> list[bytes]:
    """One loop of the clip as VP8 packets, one per frame, a keyframe every 2 s (`GOP` at
    15 fps). A smaller `size` or `fps` is what a browser sends when asked for less."""
    scene = clip(fps)
    width, height = size
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, VIDEO_CLOCK)
    codec.framerate = fractions.Fraction(fps).limit_denominator(1001)
    codec.gop_size = max(1, round(GOP * fps / FPS))
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for index in range(scene.frame_count):
        bgr = scene.frame(index)
        if (width, height) != (640, 480):
            bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        frame.pts = round(index * VIDEO_CLOCK / fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        for packet in codec.encode(frame):
            packets.append(bytes(packet))
    for packet in codec.encode(None):
        packets.append(bytes(packet))
    if len(packets) != scene.frame_count:
        raise RuntimeError(f"VP8: {len(packets)} packets for {scene.frame_count} frames")
    return packets


SCREEN_SIZE = (1280, 720)
SCREEN_FPS = 2.0
"""What the server asks of a shared screen (`CaptureProfile.screen_constraints`)."""


def screen_picture(seconds: float) -> np.ndarray:
    """A desktop as a candidate's screen shows it: a page of text on which a new line is
    typed every second, the cursor blinking (most of the screen does not change)."""
    width, height = SCREEN_SIZE
    page = np.full((height, width, 3), 245, np.uint8)
    cv2.rectangle(page, (0, 0), (width, 40), (60, 60, 60), -1)
    lines = int(seconds) % 24
    for line in range(lines + 1):
        text = f"Question {line // 4 + 1}: answer line {line % 4 + 1} of the candidate's notes"
        cv2.putText(page, text[: 20 + 2 * line], (60, 90 + 26 * line),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6, (30, 30, 30), 1, cv2.LINE_AA)  # fmt: skip
    if int(seconds * 2) % 2:
        cv2.rectangle(page, (62, 78 + 26 * lines), (64, 96 + 26 * lines), (0, 0, 0), -1)
    return page


def encode_screen(bitrate: int) -> list[bytes]:
    """One loop of the shared screen as VP8 packets at `SCREEN_FPS`, a keyframe every 2 s."""
    count = round(PERIOD * SCREEN_FPS)
    width, height = SCREEN_SIZE
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, VIDEO_CLOCK)
    codec.framerate = fractions.Fraction(SCREEN_FPS).limit_denominator(1001)
    codec.gop_size = max(1, round(2 * SCREEN_FPS))
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for index in range(count):
        bgr = screen_picture(index / SCREEN_FPS)
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        frame.pts = round(index * VIDEO_CLOCK / SCREEN_FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        packets += [bytes(packet) for packet in codec.encode(frame)]
    packets += [bytes(packet) for packet in codec.encode(None)]
    if len(packets) != count:
        raise RuntimeError(f"VP8: {len(packets)} packets for {count} screen frames")
    return packets


def audio_samples() -> np.ndarray:
    """One loop of the microphone, 48 kHz mono int16: a quiet room (low noise, so that the
    stream is not digital silence). No scripted speech: the real speech sample pauses for
    longer than the detector's hangover, so whether "speech" starts depends on where the
    0.32 s windows fall, not on load; a speech alert here counts as spurious."""
    rng = np.random.default_rng(5)
    return (rng.standard_normal(round(PERIOD * AUDIO_RATE)) * 30).astype(np.int16)


def encode_audio(ptime_ms: int = 20) -> list[bytes]:
    """One loop of the microphone as Opus packets of `ptime_ms` (browsers: 20 ms)."""
    per_packet = AUDIO_RATE * ptime_ms // 1000
    samples = audio_samples()
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 32_000
    codec.time_base = fractions.Fraction(1, AUDIO_RATE)
    codec.options = {"frame_duration": str(ptime_ms)}
    packets: list[bytes] = []
    count = samples.size // per_packet
    for index in range(count):
        chunk = samples[index * per_packet : (index + 1) * per_packet]
        stereo = np.repeat(chunk, 2).reshape(1, -1)  # interleaved s16
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * per_packet
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        packets.extend(bytes(p) for p in codec.encode(frame))
    packets.extend(bytes(p) for p in codec.encode(None))
    return packets[:count]


def jpeg_frames(rate: float) -> list[bytes]:
    """One loop of the clip as JPEGs at `rate` frames a second (the upload path)."""
    scene = clip()
    count = math.ceil(PERIOD * rate)
    frames = []
    for index in range(count):
        bgr = scene.frame(round(index / rate * FPS))
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        frames.append(data.tobytes())
    return frames


def reference_photo() -> bytes:
    """The enrolled photo: another picture of the person in the clip."""
    return (ROOT / "tests" / "data" / "obama2.jpg").read_bytes()
