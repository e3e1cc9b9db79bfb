"""The identity descriptor in child processes.

dlib's Python binding holds the GIL for the whole ~11 ms of a descriptor: in a thread it
freezes the event loop (RTP, ICE consent, HTTP, data channels) and every other detector
meanwhile. Measured with `bench/load.py` at 10 candidates: the loop's round trip p95 went
from 0.37 s to 0.016 s with the descriptor in a child process (BENCHMARKS.md). The calling
thread sends only the face region and waits with the GIL released.
"""

from __future__ import annotations

import functools
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from detectors.face_detector import Detection
from detectors.identity import FaceVerifier

MARGIN = 0.5
"""The region sent to the child: the face box grown by this fraction of its size per side
(the 5-point landmarks need a little context around the box)."""


@functools.cache
def _verifier() -> FaceVerifier:
    return FaceVerifier()


def _describe(crop: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Runs in the child: the descriptor of the face at `box` within `crop`."""
    return np.asarray(_verifier().describe_pixels(crop, box))


class DescriptorPool:
    """`describe(bgr, box)` like `FaceVerifier.describe`, computed in child processes.

    The processes start on first use (spawned, not forked: the server has threads) and load
    the models once each.
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("DescriptorPool needs at least one worker")
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self._workers, mp_context=context)
            return self._pool

    def describe(self, bgr: np.ndarray, box: Detection) -> np.ndarray:
        h, w = bgr.shape[:2]
        left, top, right, bottom = box.pixel_box(w, h)
        mx, my = int((right - left) * MARGIN), int((bottom - top) * MARGIN)
        x0, y0 = max(0, left - mx), max(0, top - my)
        x1, y1 = min(w, right + mx), min(h, bottom + my)
        crop = np.ascontiguousarray(bgr[y0:y1, x0:x1])
        shifted = (left - x0, top - y0, right - x0, bottom - y0)
        return self._executor().submit(_describe, crop, shifted).result()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
