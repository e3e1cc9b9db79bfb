"""Test clips made from real photos: a scripted scene played as live video, y4m or VP8.

Data (in tests/data, made from /work/shared/faces and /work/shared/audio, cropped to 4:3 and
scaled to 640x480 JPEG quality 80):
- clip_obama.jpg: Barack Obama, official portrait (face_recognition 1.3.0 test images, MIT).
- clip_biden.jpg: Joe Biden, same source.
- clip_coffee.jpg: a coffee cup, no face (scikit-image `data.coffee()`, CC0).
- clip_speech.wav: 3 s of English speech, 16 kHz mono (silero-vad 6.2.3 sdist, MIT).

A scene is a list of (start_s, end_s, content), e.g. `DEFAULT_SCENE`; content is one of
"candidate" (Obama), "other_person" (Biden), "empty" (the cup, nobody in view) and
"two_faces" (Obama and Biden side by side). Frames pan by a few pixels over time, so the
video is not a still image to the encoder.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import math
import time
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

DATA = Path(__file__).parent / "data"

Scene = Sequence[tuple[float, float, str]]
DEFAULT_SCENE: Scene = (
    (0, 4, "candidate"),
    (4, 8, "empty"),
    (8, 11, "two_faces"),
    (11, 15, "other_person"),
)
CONTENTS = ("candidate", "other_person", "empty", "two_faces")
WIDTH, HEIGHT = 640, 480
VIDEO_CLOCK = 90_000


@functools.cache
def photo(name: str) -> np.ndarray:
    """tests/data/clip_<name>.jpg as a 480x640 BGR array (read-only, cached)."""
    image = cv2.imread(str(DATA / f"clip_{name}.jpg"), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(DATA / f"clip_{name}.jpg")
    image = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    image.setflags(write=False)
    return image


@functools.cache
def still(content: str) -> np.ndarray:
    """The base 640x480 BGR picture for one kind of content."""
    if content == "candidate":
        return photo("obama")
    if content == "other_person":
        return photo("biden")
    if content == "empty":
        return photo("coffee")
    if content == "two_faces":
        # The middle half of each portrait, side by side: both faces at full size.
        quarter = WIDTH // 4
        left = photo("obama")[:, quarter : quarter * 3]
        right = photo("biden")[:, quarter : quarter * 3]
        both = np.ascontiguousarray(np.hstack([left, right]))
        both.setflags(write=False)
        return both
    raise ValueError(f"unknown scene content {content!r} (one of {CONTENTS})")


class Clip:
    """A scene rendered to 640x480 BGR frames at `fps`."""

    def __init__(self, scene: Scene = DEFAULT_SCENE, fps: float = 15.0) -> None:
        if not scene:
            raise ValueError("empty scene")
        for start, end, content in scene:
            if end <= start:
                raise ValueError(f"segment {start}-{end} ends before it starts")
            still(content)  # fail now on an unknown content
        self.scene = tuple(scene)
        self.fps = fps
        self.duration = max(end for _, end, _ in self.scene)
        self.frame_count = math.ceil(self.duration * fps)

    def content_at(self, t: float) -> str:
        """What the scene shows at `t` seconds ("empty" between segments)."""
        for start, end, content in self.scene:
            if start <= t < end:
                return content
        return "empty"

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as a BGR array, panned by up to 4 px to keep the encoder busy."""
        t = index / self.fps
        shift = round(4 * math.sin(2 * math.pi * t / 2.0))
        return np.roll(still(self.content_at(t)), shift, axis=1)

    def frames(self) -> Iterator[np.ndarray]:
        for index in range(self.frame_count):
            yield self.frame(index)

    def video_frame(self, index: int) -> av.VideoFrame:
        """Frame `index` as an av.VideoFrame (yuv420p) stamped on a 90 kHz clock."""
        frame = av.VideoFrame.from_ndarray(self.frame(index), format="bgr24").reformat(
            format="yuv420p"
        )
        frame.pts = round(index * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class ClipVideoTrack(MediaStreamTrack):
    """Plays a `Clip` in real time as an aiortc video track, then ends (or loops)."""

    kind = "video"

    def __init__(self, clip: Clip, *, loop: bool = False) -> None:
        super().__init__()
        self.clip = clip
        self.loop = loop
        self.sent = 0
        self._start: float | None = None
        self._ended = asyncio.Event()
        self.on("ended", self._ended.set)

    async def finished(self) -> None:
        """Wait until the whole clip has been played (or the track stopped)."""
        await self._ended.wait()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        index = self.sent
        if index >= self.clip.frame_count and not self.loop:
            self.stop()
            raise MediaStreamError
        delay = self._start + index / self.clip.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = self.clip.video_frame(index % self.clip.frame_count)
        frame.pts = round(index * VIDEO_CLOCK / self.clip.fps)
        self.sent += 1
        return frame


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A mono 16-bit wav file as (int16 samples, sample rate)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit mono")
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return samples.astype(np.int16), rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Write int16 mono samples as a wav file (for --use-file-for-fake-audio-capture).

    Returns the absolute, normalised path, which is what Chromium needs."""
    path = path.resolve()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def speech(seconds: float | None = None) -> tuple[np.ndarray, int]:
    """The real speech sample, repeated or cut to `seconds` when given."""
    samples, rate = read_wav(DATA / "clip_speech.wav")
    if seconds is not None:
        wanted = round(seconds * rate)
        samples = np.resize(samples, wanted)  # repeats the clip as needed
    return samples, rate


class WavAudioTrack(MediaStreamTrack):
    """Plays int16 mono samples in real time as 20 ms aiortc audio frames, then ends."""

    kind = "audio"

    def __init__(self, samples: np.ndarray, rate: int, *, loop: bool = False) -> None:
        super().__init__()
        self.samples = np.asarray(samples, dtype=np.int16)
        self.rate = rate
        self.loop = loop
        self.per_frame = rate // 50
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        offset = self.sent * self.per_frame
        if offset + self.per_frame > self.samples.size:
            if not self.loop:
                self.stop()
                raise MediaStreamError
            offset %= max(1, self.samples.size - self.per_frame)
        delay = self._start + self.sent / 50 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self.samples[offset : offset + self.per_frame]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self.sent * self.per_frame
        frame.time_base = fractions.Fraction(1, self.rate)
        self.sent += 1
        return frame


def write_y4m(clip: Clip, path: Path) -> Path:
    """Write the clip as YUV4MPEG2 (4:2:0) for Chromium's --use-file-for-fake-video-capture.

    Returns the absolute, normalised path: Chromium reports a relative or unnormalised path
    as a missing camera ("NotFoundError: Requested device not found"). Chromium loops the file.
    """
    path = path.resolve()
    fps = fractions.Fraction(clip.fps).limit_denominator(1001)
    with open(path, "wb") as out:
        out.write(
            f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps.numerator}:{fps.denominator} "
            "Ip A1:1 C420jpeg\n".encode()
        )
        for bgr in clip.frames():
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def encode_vp8(clip: Clip, bitrate: int = 500_000) -> list[bytes]:
    """Encode the clip once to VP8 with libvpx: one packet (bytes) per frame, first a keyframe.

    For load benchmarks that replay the same encoded stream into many peers without paying
    for one encode per stream; feed the packets to a sender with its own RTP packetisation.
    """
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = WIDTH, HEIGHT
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, VIDEO_CLOCK)
    codec.framerate = fractions.Fraction(clip.fps).limit_denominator(1001)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for index in range(clip.frame_count):
        for packet in codec.encode(clip.video_frame(index)):
            packets.append(bytes(packet))
    for packet in codec.encode(None):
        packets.append(bytes(packet))
    return packets


class CandidateClient:
    """An in-process aiortc peer standing in for the candidate's browser, pinned to loopback.

    It sends the clip's video (and audio, when given), creates the "proctor" data channel and
    offers without trickle, like the page does. Every candidate it gathers is on 127.0.0.1
    and no STUN server is configured, so a test's traffic never leaves loopback.
    """

    def __init__(
        self,
        video: MediaStreamTrack | None,
        audio: MediaStreamTrack | None = None,
        *,
        channel_label: str = "proctor",
    ) -> None:
        # Imported here so the clip helpers stay usable without the signaling package.
        from signaling.ice import IceSettings

        self.ice = IceSettings(hosts=("127.0.0.1",))
        self.pc = self.ice.new_peer_connection()
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self.channel = self.pc.createDataChannel(channel_label)
        self.channel.on("message", self.received.put_nowait)
        self.channel_open = asyncio.Event()
        self.channel.on("open", self.channel_open.set)
        for track in (video, audio):
            if track is not None:
                self.pc.addTransceiver(track, direction="sendonly")

    async def offer(self) -> str:
        """Create the complete offer (all candidates gathered on loopback)."""
        offer = await self.pc.createOffer()
        self.ice.prepare_gathering(self.pc)
        await self.pc.setLocalDescription(offer)
        return str(self.pc.localDescription.sdp)

    async def accept_answer(self, sdp: str) -> None:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def close(self) -> None:
        await self.pc.close()
