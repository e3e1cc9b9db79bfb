"""A VP8 encoder with aiortc's real-time settings, for video the server sends on."""

from __future__ import annotations

import fractions
from typing import Any

import av
from av import VideoFrame
from av.packet import Packet

__all__ = ["VIDEO_CLOCK", "Vp8Encoder"]

VIDEO_CLOCK = 90_000
"""RTP's video clock rate: packet timestamps count in 1/90000 s."""


class Vp8Encoder:
    """One libvpx encoder with aiortc's real-time settings; frames in, packets out."""

    def __init__(self, bitrate: int) -> None:
        self._bitrate = bitrate
        self._codec: Any = None

    def encode(self, frame: VideoFrame, pts: int, keyframe: bool) -> list[Packet]:
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        codec = self._codec
        if codec is None or (frame.width, frame.height) != (codec.width, codec.height):
            codec = self._codec = av.CodecContext.create("libvpx", "w")
            codec.width, codec.height = frame.width, frame.height
            codec.pix_fmt = "yuv420p"
            codec.bit_rate = self._bitrate
            codec.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            codec.gop_size = 3000  # keyframes on request only
            codec.qmin, codec.qmax = 2, 56
            codec.options = {
                "bufsize": str(self._bitrate),
                "cpu-used": "-6",
                "deadline": "realtime",
                "lag-in-frames": "0",
                "minrate": str(self._bitrate),
                "maxrate": str(self._bitrate),
                "noise-sensitivity": "4",
                "overshoot-pct": "15",
                "partitions": "0",
                "static-thresh": "1",
                "undershoot-pct": "100",
            }
            codec.thread_count = 1
            keyframe = True
        # The decoded frame is shared with the analysis: only its timing fields are ours to set
        # (our clock, monotonic across the candidate's reconnections).
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        frame.pict_type = (
            av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        )
        packets = list(codec.encode(frame))
        for packet in packets:
            packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            if packet.pts is None:
                packet.pts = pts
        return packets
