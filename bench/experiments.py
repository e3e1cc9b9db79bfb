"""Experiments bench/serve.py can switch on, to measure a proposed server change before
anyone writes it. Each is off unless its environment variable is set; none is used by the
plain benchmark, and none changes a file of the server.

BENCH_IDENTITY_INTERVAL=<seconds>
    `AnalyzerSettings.identity_interval` (default 5 s): how often the dlib identity check
    runs when nothing triggers it.
BENCH_IDENTITY_PROCESSES=<k>
    Run dlib's descriptor in k child processes instead of the detector thread. dlib holds
    the GIL for its whole ~70 ms, freezing the event loop and every other thread meanwhile;
    in a child process it does not. The thread sends the face region (box plus margin), not
    the whole frame, and waits for the result with the GIL released.
BENCH_SWITCH_INTERVAL=<ms>
    `sys.setswitchinterval`: how long a thread may hold the GIL while another waits for it
    (Python's default 5 ms). The event loop gives the GIL up on every socket call and
    waits up to this long to get it back from the decoder and worker threads.
BENCH_TRACEMALLOC=<a>,<b>,<path>
    Trace Python allocations from start-up (slows the server down: use a small N), take
    snapshots <a> and <b> seconds after start-up and write the 30 largest growths between
    them, by allocating line, to <path>: what keeps growing.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

log = logging.getLogger("proctor.bench")

MARGIN = 0.5
"""Face region sent to the child: the box grown by this fraction of its size on each side."""


@functools.cache
def _child_models() -> Any:
    import dlib

    from detectors.model_files import FACE_DESCRIPTOR, SHAPE_PREDICTOR_5, model_path

    return (
        dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_5))),
        dlib.face_recognition_model_v1(str(model_path(FACE_DESCRIPTOR))),
    )


def describe_in_child(crop_bgr: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """In the child: what `FaceVerifier.describe` computes, on the cropped region."""
    import dlib

    shape_predictor, net = _child_models()
    rgb = np.ascontiguousarray(crop_bgr[:, :, ::-1])
    shape = shape_predictor(rgb, dlib.rectangle(*box))
    return np.asarray(net.compute_face_descriptor(rgb, shape), dtype=np.float64)


def _identity_processes(workers: int) -> None:
    from detectors import identity

    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context)

    def describe(self: Any, bgr: np.ndarray, box: Any) -> np.ndarray:
        h, w = bgr.shape[:2]
        left, top, right, bottom = box.pixel_box(w, h)
        mx, my = int((right - left) * MARGIN), int((bottom - top) * MARGIN)
        x0, y0 = max(0, left - mx), max(0, top - my)
        x1, y1 = min(w, right + mx), min(h, bottom + my)
        crop = np.ascontiguousarray(bgr[y0:y1, x0:x1])
        shifted = (left - x0, top - y0, right - x0, bottom - y0)
        return pool.submit(describe_in_child, crop, shifted).result()

    identity.FaceVerifier.describe = describe  # type: ignore[method-assign]
    # Load the models in every child now, not on the first candidate's check.
    warm = np.zeros((64, 64, 3), np.uint8)
    for future in [pool.submit(describe_in_child, warm, (8, 8, 56, 56)) for _ in range(workers)]:
        future.result()
    log.warning("experiment: identity descriptor in %d child process(es)", workers)


def _identity_interval(seconds: float) -> None:
    from dataclasses import replace

    from detectors import pipeline

    original = pipeline.FrameAnalyzer.__init__

    def init(self: Any, reference: Any, settings: Any = None, **kwargs: Any) -> None:
        settings = replace(settings or pipeline.AnalyzerSettings(), identity_interval=seconds)
        original(self, reference, settings, **kwargs)

    pipeline.FrameAnalyzer.__init__ = init  # type: ignore[method-assign,assignment]
    log.warning("experiment: identity check every %.1f s", seconds)


def _tracemalloc(spec: str) -> None:
    import threading
    import tracemalloc

    first, second, path = spec.split(",", 2)
    tracemalloc.start(8)
    snapshots: list[tracemalloc.Snapshot] = []

    def take() -> None:
        snapshots.append(tracemalloc.take_snapshot())
        if len(snapshots) == 2:
            growth = snapshots[1].compare_to(snapshots[0], "traceback")
            with open(path, "w") as out:
                out.write(f"growth from {first} s to {second} s after start-up\n")
                for stat in growth[:30]:
                    out.write(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks\n")
                    for line in stat.traceback.format()[-8:]:
                        out.write(f"      {line}\n")

    for delay in (float(first), float(second)):
        timer = threading.Timer(delay, take)
        timer.daemon = True
        timer.start()
    log.warning("experiment: tracemalloc, snapshots at %s s and %s s -> %s", first, second, path)


def apply(environ: dict[str, str] | None = None) -> list[str]:
    """Switch on the experiments named in the environment; returns their names."""
    env = dict(os.environ if environ is None else environ)
    applied = []
    if value := env.get("BENCH_IDENTITY_INTERVAL"):
        _identity_interval(float(value))
        applied.append(f"identity_interval={value}")
    if value := env.get("BENCH_IDENTITY_PROCESSES"):
        _identity_processes(int(value))
        applied.append(f"identity_processes={value}")
    if value := env.get("BENCH_SWITCH_INTERVAL"):
        import sys

        sys.setswitchinterval(float(value) / 1000.0)
        log.warning("experiment: GIL switch interval %s ms", value)
        applied.append(f"switch_interval={value}")
    if value := env.get("BENCH_TRACEMALLOC"):
        _tracemalloc(value)
        applied.append("tracemalloc")
    return applied
