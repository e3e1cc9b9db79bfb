"""Which stages of the server let other threads run: the GIL, measured per stage.

    python bench/bench_gil.py [--seconds 3]

For each stage: calls per second on one thread and on two threads at once (a stage that
releases the GIL nearly doubles on two cores), and how late a 5 ms sleep in a third thread
wakes while one thread runs the stage back to back. That third thread stands for the server's
event loop: a stage that holds the GIL for its whole call stalls the loop (RTP, ICE consent,
HTTP) for as long as the call lasts.
"""

from __future__ import annotations

import argparse
import fractions
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_detectors import frame_640x480  # noqa: E402

from detectors.face_detector import FaceDetector  # noqa: E402
from detectors.face_mesh import FaceMesh, IrisModel  # noqa: E402
from detectors.identity import FaceVerifier  # noqa: E402
from detectors.pipeline import FrameAnalyzer  # noqa: E402
from detectors.voice import SileroVad  # noqa: E402

Stage = Callable[[], Callable[[], object]]
"""Makes one thread's callable (models are not shared between threads)."""


def vp8_stage() -> Callable[[], object]:
    frame = frame_640x480()
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 90_000)
    encoder.options = {"deadline": "realtime", "cpu-used": "8"}
    packets: list[bytes] = []
    for index in range(30):
        shifted = np.roll(frame, index, axis=1)
        video = av.VideoFrame.from_ndarray(shifted, format="bgr24").reformat(format="yuv420p")
        video.pts = index * 6000
        packets.extend(bytes(p) for p in encoder.encode(video))
    decoder = av.CodecContext.create("vp8", "r")
    state = {"i": 0}

    def decode() -> object:
        i = state["i"] % len(packets)
        if i == 0:
            decoder.flush_buffers()
        state["i"] += 1
        return decoder.decode(av.Packet(packets[i]))

    return decode


def stages() -> dict[str, Stage]:
    frame = frame_640x480()
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    face = FaceDetector().detect_full(frame)[0]
    mesh = FaceMesh().landmarks(rgb, face)
    assert mesh is not None

    def analyzer() -> Callable[[], object]:
        analysis = FrameAnalyzer(None)
        clock = {"t": 0.0}

        def run() -> object:
            clock["t"] += 0.5
            return analysis.analyze(frame, clock["t"])

        return run

    def vad() -> Callable[[], object]:
        model = SileroVad()
        chunk = np.zeros(576, np.float32)
        state = np.zeros((2, 1, 128), np.float32)
        return lambda: model.run(chunk, state)

    def detector() -> Callable[[], object]:
        model = FaceDetector()
        return lambda: model.detect_full(frame)

    def face_mesh() -> Callable[[], object]:
        model = FaceMesh()
        return lambda: model.landmarks(rgb, face)

    def iris() -> Callable[[], object]:
        model = IrisModel()
        return lambda: model.eyes(rgb, mesh)

    def identity() -> Callable[[], object]:
        model = FaceVerifier()
        return lambda: model.describe(frame, face)

    return {
        "BlazeFace (litert)": detector,
        "face mesh (litert)": face_mesh,
        "iris (litert)": iris,
        "analyze(), identity off": analyzer,
        "dlib identity descriptor": identity,
        "silero VAD chunk (onnx)": vad,
        "VP8 decode 640x480": vp8_stage,
    }


def rate(make: Stage, threads: int, seconds: float) -> float:
    calls = [make() for _ in range(threads)]
    for call in calls:
        call()
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(index: int) -> None:
        call = calls[index]
        while time.perf_counter() < stop:
            call()
            counts[index] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - start)


def stall(make: Stage, seconds: float) -> float:
    """Worst lateness (ms) of a 5 ms sleep in another thread while the stage runs."""
    call = make()
    call()
    stop = time.perf_counter() + seconds
    lags: list[float] = []

    def ticker() -> None:
        while time.perf_counter() < stop:
            before = time.perf_counter()
            time.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    thread = threading.Thread(target=ticker)
    thread.start()
    while time.perf_counter() < stop:
        call()
    thread.join()
    return 1000 * max(lags) if lags else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"{'stage':<26}{'1 thread/s':>11}{'2 threads/s':>12}{'speed-up':>9}{'stall ms':>10}")
    for name, make in stages().items():
        one = rate(make, 1, args.seconds)
        two = rate(make, 2, args.seconds)
        print(
            f"{name:<26}{one:>11.1f}{two:>12.1f}{two / one:>8.2f}x"
            f"{stall(make, args.seconds):>10.1f}"
        )


if __name__ == "__main__":
    main()
