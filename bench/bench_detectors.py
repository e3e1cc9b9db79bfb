"""Median time per detector stage on a 640x480 frame made from a real photo.

    python bench/bench_detectors.py [--runs 50] [--cv-threads 1]

Prints BlazeFace, face mesh and iris under both TFLite runtimes (ai-edge-litert and OpenCV
DNN with the classic engine), the stages of a full `FrameAnalyzer.analyze` (identity check
off), the identity check on its own, and silero VAD. Single-threaded models, as in the
server, where parallelism comes from sessions running in worker threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.face_detector import FaceDetector  # noqa: E402
from detectors.face_mesh import FaceMesh, IrisModel  # noqa: E402
from detectors.identity import FaceVerifier, reference_descriptor  # noqa: E402
from detectors.pipeline import FrameAnalyzer  # noqa: E402
from detectors.tflite import Runtime  # noqa: E402
from detectors.voice import Resampler, SileroVad, VoiceActivityDetector  # noqa: E402


def frame_640x480(name: str = "obama") -> np.ndarray:
    """The photo centred on a grey 640x480 frame, like a webcam picture."""
    image = cv2.imread(str(ROOT / "tests" / "data" / f"{name}.jpg"))
    if image is None:
        raise SystemExit(f"tests/data/{name}.jpg not found")
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 128, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def runtime_row(runtime: Runtime, frame: np.ndarray, runs: int) -> tuple[float, float, float]:
    """Median ms of face detection, mesh and iris under one TFLite runtime."""
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    detector, mesh_model, iris = FaceDetector(runtime), FaceMesh(runtime), IrisModel(runtime)
    face = detector.detect_full(frame)[0]
    mesh = mesh_model.landmarks(rgb, face)
    assert mesh is not None
    return (
        median_ms(lambda: detector.detect_full(frame), runs),
        median_ms(lambda: mesh_model.landmarks(rgb, face), runs),
        median_ms(lambda: iris.eyes(rgb, mesh), runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--cv-threads", type=int, default=1, help="cv2.setNumThreads for OpenCV DNN (default 1)"
    )
    args = parser.parse_args()
    cv2.setNumThreads(args.cv_threads)
    runs = args.runs
    frame = frame_640x480()
    print(f"640x480 frame from tests/data/obama.jpg, median of {runs} runs, ms")
    print(f"OpenCV {cv2.__version__} with {cv2.getNumThreads()} thread(s)\n")

    print(f"{'model':<28}{'litert':>10}{'opencv':>10}")
    labels = ("BlazeFace full range", "face mesh (crop + model)", "iris, both eyes")
    litert, opencv = (runtime_row(runtime, frame, runs) for runtime in ("litert", "opencv"))
    for label, litert_ms, opencv_ms in zip(labels, litert, opencv, strict=True):
        print(f"{label:<28}{litert_ms:>10.2f}{opencv_ms:>10.2f}")

    print("\nFrameAnalyzer.analyze (litert, identity off), per stage:")
    analyzer = FrameAnalyzer(None)
    rng = np.random.default_rng(0)
    # Sensor noise, so that the camera check sees a live picture (cv2.add saturates).
    frames = [cv2.add(frame, rng.integers(0, 3, frame.shape, dtype=np.uint8)) for _ in range(8)]
    timings: dict[str, list[float]] = {}
    for i in range(runs + 3):
        result = analyzer.analyze(frames[i % len(frames)], i * 0.1)
        if i >= 3:
            for stage, ms in result.timings_ms.items():
                timings.setdefault(stage, []).append(ms)
    for stage, values in timings.items():
        print(f"  {stage:<26}{statistics.median(values):>10.2f}")

    verifier = FaceVerifier()
    face = FaceDetector().detect_full(frame)[0]
    print("\nidentity check (dlib 5-point + ResNet descriptor, one face):")
    print(f"  {'describe':<26}{median_ms(lambda: verifier.describe(frame, face), 10):>10.2f}")
    reference = reference_descriptor(frame)
    checked = FrameAnalyzer(reference)
    per_check = []
    for i in range(10):
        checked._last_identity_ts = None  # force a check on every frame
        per_check.append(checked.analyze(frames[i % len(frames)], i * 0.1).timings_ms["identity"])
    print(f"  {'analyze(), identity stage':<26}{statistics.median(per_check):>10.2f}")

    vad = SileroVad()
    chunk = np.zeros(576, np.float32)
    state = np.zeros((2, 1, 128), np.float32)
    print("\nvoice (onnxruntime, 1 thread):")
    print(
        f"  {'silero, one 32 ms chunk':<26}{median_ms(lambda: vad.run(chunk, state), runs):>10.3f}"
    )
    resampler = Resampler(48_000)
    stereo20ms = (rng.standard_normal(960) * 0.1).astype(np.float32)
    print(
        f"  {'resample 20 ms of 48 kHz':<26}"
        f"{median_ms(lambda: resampler.process(stereo20ms), runs):>10.3f}"
    )
    voice = VoiceActivityDetector(vad)
    pcm = (rng.standard_normal(960 * 2) * 1000).astype(np.int16)
    feed_ms = median_ms(lambda: voice.feed(pcm, 48_000, 0.0, channels=2), runs)
    print(f"  {'feed 20 ms 48 kHz stereo':<26}{feed_ms:>10.3f}")


if __name__ == "__main__":
    main()
