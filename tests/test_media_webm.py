"""WebM segments written from encoded frames, as the recorder writes them."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

from media.webm import Block, mux_segment


def vp8_blocks(count: int, fps: int = 10) -> list[Block]:
    """`count` real VP8 frames of a moving gradient, 320x240, as the recorder receives them."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.time_base = Fraction(1, fps)
    blocks = []
    for i in range(count):
        picture = np.full((240, 320, 3), (i * 20) % 255, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        for packet in encoder.encode(frame):
            blocks.append(Block(i * 1000 // fps, bytes(packet), packet.is_keyframe))
    for packet in encoder.encode(None):
        blocks.append(Block(len(blocks) * 1000 // fps, bytes(packet), packet.is_keyframe))
    return blocks


def test_a_segment_whose_microphone_sent_nothing_yet_is_still_written() -> None:
    video = vp8_blocks(10)
    webm = mux_segment(video, [], size=(320, 240), end_ms=1000, with_audio=True)
    with av.open(io.BytesIO(webm)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == len(video) and decoded[0].width == 320
