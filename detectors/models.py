"""One set of loaded models per worker thread.

TFLite interpreters and dlib models are not safe to share between threads, and loading
them costs time and ~100 MB, so each worker thread loads its own set once and keeps it
(`threading.local`). Every model is loaded on first use: a thread that only runs voice
activity detection never loads dlib. Per-session state never lives here.
"""

from __future__ import annotations

import threading
from functools import cached_property

from detectors.face_detector import FaceDetector
from detectors.face_mesh import FaceMesh, IrisModel
from detectors.identity import FaceVerifier
from detectors.tflite import Runtime
from detectors.voice import SileroVad


class Models:
    """Lazily loaded models for use by one thread only."""

    def __init__(self, runtime: Runtime = "litert") -> None:
        self.runtime: Runtime = runtime

    @cached_property
    def face_detector(self) -> FaceDetector:
        return FaceDetector(self.runtime)

    @cached_property
    def face_mesh(self) -> FaceMesh:
        return FaceMesh(self.runtime)

    @cached_property
    def iris(self) -> IrisModel:
        return IrisModel(self.runtime)

    @cached_property
    def verifier(self) -> FaceVerifier:
        return FaceVerifier()

    @cached_property
    def vad(self) -> SileroVad:
        return SileroVad()


_local = threading.local()


def shared_models() -> Models:
    """This thread's models, created on the first call in each thread."""
    models: Models | None = getattr(_local, "models", None)
    if models is None:
        models = Models()
        _local.models = models
    return models
