"""A thumbnail of the frame the detectors last looked at, for the consoles' grid.

`Thumbnail` makes a small JPEG at most once per analysed frame however many consoles ask:
every viewer gets the same bytes.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

import cv2
import numpy as np

from detectors.pipeline import to_bgr

__all__ = ["THUMBNAIL_WIDTH", "Thumbnail"]

THUMBNAIL_WIDTH = 320
THUMBNAIL_QUALITY = 70


class Thumbnail:
    """The latest analysed frame as a JPEG `THUMBNAIL_WIDTH` pixels wide, shared by all."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._lock = asyncio.Lock()
        self._source: np.ndarray | None = None
        self._jpeg: bytes | None = None
        self.encodes = 0
        """How many JPEGs were made (one per analysed frame at most)."""

    async def jpeg(self, frame: np.ndarray | None) -> bytes | None:
        """The thumbnail of `frame` (the session's latest analysed frame); None without one."""
        if frame is None:
            return None
        async with self._lock:  # concurrent viewers wait for the one encode
            if frame is not self._source:
                loop = asyncio.get_running_loop()
                self._jpeg = await loop.run_in_executor(self._executor, _encode_thumbnail, frame)
                self._source = frame
                self.encodes += 1
            return self._jpeg


def _encode_thumbnail(image: np.ndarray) -> bytes:
    frame = to_bgr(image)
    height, width = frame.shape[:2]
    if width > THUMBNAIL_WIDTH:
        size = (THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding of a thumbnail failed")
    return data.tobytes()
