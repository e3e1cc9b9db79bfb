"""Detectors: models that turn frames and audio into observations.

Public API (imported lazily, so `import detectors.base` stays cheap for the alert rules):

- `FrameAnalyzer(reference, settings)` / `AnalyzerSettings`: per-session video analysis.
- `AudioAnalyzer()`: per-session voice activity (SPEECH observations).
- `enrol(image_bgr)` (descriptor, face crop, quality), `reference_descriptor(image_bgr)`,
  `decode_image(data)`, `distance(a, b)`: enrolment.
- `shared_models()`: the calling thread's loaded models.
- `EnrolmentError`, `ImageDecodeError`, `ModelFileMissing`: errors.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AnalyzerSettings",
    "AudioAnalyzer",
    "EnrolmentError",
    "FrameAnalyzer",
    "ImageDecodeError",
    "ModelFileMissing",
    "decode_image",
    "distance",
    "enrol",
    "reference_descriptor",
    "shared_models",
]

_WHERE = {
    "AnalyzerSettings": "detectors.pipeline",
    "AudioAnalyzer": "detectors.pipeline",
    "FrameAnalyzer": "detectors.pipeline",
    "EnrolmentError": "detectors.errors",
    "ImageDecodeError": "detectors.errors",
    "ModelFileMissing": "detectors.errors",
    "decode_image": "detectors.identity",
    "distance": "detectors.identity",
    "enrol": "detectors.identity",
    "reference_descriptor": "detectors.identity",
    "shared_models": "detectors.models",
}


def __getattr__(name: str) -> Any:
    # Heavy imports (OpenCV, dlib, onnxruntime) only when the API is actually used.
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'detectors' has no attribute {name!r}")
