"""The clip helpers other tests and the browser tests rely on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from tests.clips import (
    DEFAULT_SCENE,
    Clip,
    ClipVideoTrack,
    WavAudioTrack,
    encode_vp8,
    read_wav,
    speech,
    still,
    write_wav,
    write_y4m,
)


def test_scene_contents_and_frames() -> None:
    clip = Clip(DEFAULT_SCENE, fps=10)
    assert clip.duration == 15 and clip.frame_count == 150
    assert [clip.content_at(t) for t in (0, 3.9, 4, 8.5, 14.9, 20)] == [
        "candidate",
        "candidate",
        "empty",
        "two_faces",
        "other_person",
        "empty",
    ]
    frame = clip.frame(0)
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    # The two-face picture really holds two different photos side by side.
    two = still("two_faces")
    assert float(np.abs(two[:, :320].astype(int) - two[:, 320:].astype(int)).mean()) > 20
    with pytest.raises(ValueError, match="unknown scene content"):
        Clip(((0, 1, "cat"),))


def test_y4m_is_what_chromium_reads(tmp_path: Path) -> None:
    clip = Clip(((0, 1, "candidate"),), fps=15)
    (tmp_path / "sub").mkdir()
    path = write_y4m(clip, tmp_path / "sub" / ".." / "clip.y4m")
    assert path.is_absolute() and ".." not in path.parts
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    assert header == b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg"
    frame_bytes = len(b"FRAME\n") + 640 * 480 * 3 // 2
    assert len(body) == 15 * frame_bytes
    assert body.startswith(b"FRAME\n") and body[frame_bytes:].startswith(b"FRAME\n")


def test_wav_round_trip(tmp_path: Path) -> None:
    samples, rate = speech(1.0)
    assert samples.size == rate == 16_000
    path = write_wav(tmp_path / "speech.wav", samples, rate)
    again, again_rate = read_wav(path)
    assert again_rate == rate and np.array_equal(again, samples)


def test_vp8_packets_decode_back_to_the_clip() -> None:
    clip = Clip(((0, 1, "two_faces"),), fps=10)
    packets = encode_vp8(clip)
    assert len(packets) == 10
    decoder = av.CodecContext.create("vp8", "r")
    frames = [f for p in packets for f in decoder.decode(av.Packet(p))]
    assert len(frames) == 10
    decoded = frames[0].to_ndarray(format="bgr24").astype(int)
    assert float(np.abs(decoded - clip.frame(0).astype(int)).mean()) < 10


async def test_tracks_play_in_real_time_then_end() -> None:
    track = ClipVideoTrack(Clip(((0, 0.5, "empty"),), fps=20))
    loop = asyncio.get_running_loop()
    started = loop.time()
    frames = [await track.recv() for _ in range(10)]
    assert 0.4 <= loop.time() - started < 0.7
    assert [f.pts for f in frames] == [i * 4500 for i in range(10)]
    with pytest.raises(MediaStreamError):
        await track.recv()
    async with asyncio.timeout(1):
        await track.finished()

    audio = WavAudioTrack(np.zeros(800, dtype=np.int16), 16_000)  # 50 ms: 2 frames of 20 ms
    first = await audio.recv()
    assert first.samples == 320 and first.sample_rate == 16_000
    await audio.recv()
    with pytest.raises(MediaStreamError):
        await audio.recv()
