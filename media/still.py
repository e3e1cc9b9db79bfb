"""Is this frame still the picture last analysed? A test cheap enough for every sample.

A seated candidate's webcam shows nearly the same picture for seconds on end, and the
detectors would say the same of every frame. `StillPicture` compares a 64x48 grey thumbnail
(area-averaged from the luma plane, ~0.05 ms at 320x240) with the one of the frame last
analysed, block by block: the picture has changed when any 8x8 block of the thumbnail (an
eighth of the picture's width and a sixth of its height, 40x40 px at 320x240) differs on
average by more than `block_threshold` grey levels.

Measured on the benchmark's clip (real photos, VP8 at 320x240 and 80 kbit/s, panning 4 px):
the same scene panned differs by at most 37 (median 13), sensor noise of 8 grey levels by
1.5, a brightness step of 10 by 10; a face leaving, a second face entering or another person
replacing the candidate by 84 or more, two different photos of one person by 104 or
more. Smaller changes (the eyes, the mouth, a sway of a few pixels) are not caught here:
the sampler still analyses a still picture once a second.
"""

from __future__ import annotations

import cv2
import numpy as np
from av import VideoFrame

THUMB_SIZE = (64, 48)
BLOCK = 8
BLOCK_THRESHOLD = 50.0
"""Mean grey difference (0..255) of one 8x8 block of the thumbnail above which the picture
has changed; see the module docstring for what was measured on either side."""


def luma(frame: VideoFrame) -> np.ndarray:
    """The frame's grey picture: a view of the luma plane when the frame is planar YUV
    (what the decoders produce, no copy), else a conversion."""
    if frame.format.name in ("yuv420p", "yuvj420p"):
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        return rows[:, : plane.width]
    return frame.to_ndarray(format="gray")


class StillPicture:
    """Per stream: the thumbnail of the frame last analysed, and the test against it."""

    def __init__(self, block_threshold: float = BLOCK_THRESHOLD) -> None:
        self.block_threshold = block_threshold
        self._analysed: np.ndarray | None = None
        self._looked: np.ndarray | None = None

    def unchanged(self, grey: np.ndarray) -> bool:
        """True when `grey` shows the picture last `analysed`; remembers it either way."""
        thumb = cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
        self._looked = thumb
        if self._analysed is None:
            return False
        width, height = THUMB_SIZE
        blocks = np.abs(thumb - self._analysed).reshape(
            height // BLOCK, BLOCK, width // BLOCK, BLOCK
        )
        return float(blocks.mean(axis=(1, 3)).max()) <= self.block_threshold

    def analysed(self) -> None:
        """The picture last passed to `unchanged` was analysed: compare with it from now on."""
        self._analysed = self._looked
