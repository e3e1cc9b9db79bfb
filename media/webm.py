"""WebM files from frames that are already encoded (VP8 video, Opus audio): muxing only,
no codec runs. Browsers play WebM natively.

A recording is written as short standalone segments while it streams (a crash loses at most
the last one), then merged into one file with its duration and cues (an index) when the
attempt ends, so that a browser knows how long it is and seeks by byte ranges.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.packet import Packet

__all__ = ["Block", "MergedFile", "merge_segments", "mux_segment"]

TIME_BASE = Fraction(1, 1000)
"""Matroska's default timestamp scale: milliseconds."""
MAX_FRAME_MS = 1000
"""The last frame before a gap (a dropped connection) is shown for at most this long."""


@dataclass(frozen=True, slots=True)
class Block:
    """One encoded frame on the recording's timeline."""

    pts_ms: int
    data: bytes
    keyframe: bool = True


@dataclass(frozen=True, slots=True)
class MergedFile:
    duration_s: float
    bytes: int
    video_frames: int
    audio_frames: int


def _open_output(target: Any, size: tuple[int, int] | None, audio: bool) -> tuple[Any, Any, Any]:
    out = av.open(target, "w", format="webm")
    video = None
    if size is not None:
        video = out.add_stream("vp8")
        video.width, video.height = size
        video.time_base = TIME_BASE
    sound = out.add_stream("opus", rate=48000) if audio else None
    if sound is not None:
        sound.time_base = TIME_BASE
    return out, video, sound


def _packet(stream: Any, pts: int, data: bytes, keyframe: bool, duration: int) -> Packet:
    packet = Packet(data)
    packet.stream = stream
    packet.pts = packet.dts = pts
    packet.time_base = TIME_BASE
    packet.duration = max(1, duration)
    packet.is_keyframe = keyframe
    return packet


def _with_durations(blocks: list[Block], end_ms: int) -> list[tuple[Block, int]]:
    # Each frame lasts until the next one; the last until the segment's end. A track that
    # sent nothing in this segment (a microphone still starting) has no frames at all.
    ends = [b.pts_ms for b in blocks[1:]] + [end_ms] if blocks else []
    return [
        (block, min(MAX_FRAME_MS, until - block.pts_ms))
        for block, until in zip(blocks, ends, strict=True)
    ]


def mux_segment(
    video: list[Block],
    audio: list[Block],
    *,
    size: tuple[int, int] | None,
    end_ms: int,
    with_audio: bool,
) -> bytes:
    """One standalone WebM of these frames (each list in time order). `end_ms` is where the
    segment ends on the timeline: the last frame lasts until then (at most `MAX_FRAME_MS`)."""
    buffer = io.BytesIO()
    out, video_stream, audio_stream = _open_output(buffer, size, with_audio)
    packets = []
    if video_stream is not None:
        packets += [
            _packet(video_stream, b.pts_ms, b.data, b.keyframe, d)
            for b, d in _with_durations(video, end_ms)
        ]
    if audio_stream is not None:
        packets += [
            _packet(audio_stream, b.pts_ms, b.data, True, d)
            for b, d in _with_durations(audio, end_ms)
        ]
    packets.sort(key=lambda p: p.pts or 0)
    for packet in packets:
        out.mux(packet)
    out.close()
    return buffer.getvalue()


def merge_segments(segments: Iterable[bytes], target: Path) -> MergedFile:
    """The segments (in order) as one WebM file at `target`, packets copied as they are."""
    out: Any = None
    streams: dict[str, Any] = {}
    last_pts: dict[str, int] = {}
    end_ms = 0
    counts = {"video": 0, "audio": 0}
    try:
        for data in segments:
            with av.open(io.BytesIO(data), "r") as segment:
                inputs: dict[str, Any] = {
                    s.type: s for s in segment.streams if s.type in ("video", "audio")
                }
                if out is None:
                    video = inputs.get("video")
                    size = None if video is None else (video.width, video.height)
                    out, streams["video"], streams["audio"] = _open_output(
                        str(target), size, "audio" in inputs
                    )
                for packet in segment.demux(*inputs.values()):
                    kind = packet.stream.type
                    if packet.pts is None or streams.get(kind) is None:
                        continue  # demux's flush packets
                    pts = int(packet.pts * packet.time_base / TIME_BASE)
                    if pts <= last_pts.get(kind, -1):
                        continue  # timestamps only go forward in one stream
                    duration = int((packet.duration or 1) * packet.time_base / TIME_BASE)
                    out.mux(
                        _packet(streams[kind], pts, bytes(packet), packet.is_keyframe, duration)
                    )
                    last_pts[kind] = pts
                    end_ms = max(end_ms, pts + duration)
                    counts[kind] += 1
    finally:
        if out is not None:
            out.close()
    if out is None:
        raise ValueError("no segment to merge")
    return MergedFile(
        duration_s=end_ms / 1000,
        bytes=target.stat().st_size,
        video_frames=counts["video"],
        audio_frames=counts["audio"],
    )
