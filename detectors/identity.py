"""Face identity: dlib's 128-D ResNet descriptor, and enrolment of a reference photo.

dlib gets its face box from BlazeFace (converted to a `dlib.rectangle`) instead of running
its own HOG detector, which misses small faces at upsample 0 and costs ~110 ms at 1. Only
the 5-point landmark model is used: the 68-point one is licensed for non-commercial use.
Distances between descriptors of the same person are below 0.6, different people above
(measured on the shared photos: same 0.23-0.43, different 0.68-0.89).
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.errors import EnrolmentError, ImageDecodeError
from detectors.face_detector import Detection, FaceDetector
from detectors.image_header import MAX_PIXELS, too_many_pixels
from detectors.model_files import FACE_DESCRIPTOR, SHAPE_PREDICTOR_5, model_path

MATCH_THRESHOLD = 0.6
"""Descriptor distance above which two faces are taken to be different people."""
MIN_FACE_PIXELS = 80
"""Narrowest face (box width, pixels) accepted for enrolment: the descriptor works on a
150 px face chip, and smaller faces lose the detail it needs."""
MIN_FACE_FRACTION = 0.08
"""Narrowest face accepted for enrolment, as a fraction of the photo's longer side."""


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors; < MATCH_THRESHOLD means same person."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


class FaceVerifier:
    """Computes descriptors. Not thread-safe: one instance per thread (~100 MB loaded)."""

    def __init__(self) -> None:
        # Imported here, not at module level: dlib loads OpenBLAS, which reads its thread
        # count from the environment once, and the live side sets it before the first use.
        import dlib

        self._rectangle = dlib.rectangle
        self._shape = dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_5)))
        self._net = dlib.face_recognition_model_v1(str(model_path(FACE_DESCRIPTOR)))

    def describe(self, bgr: np.ndarray, box: Detection) -> np.ndarray:
        """128-D descriptor (float64) of the face in `box` (a BlazeFace detection)."""
        h, w = bgr.shape[:2]
        return self.describe_pixels(bgr, box.pixel_box(w, h))

    def describe_pixels(self, bgr: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The descriptor of the face in (left, top, right, bottom) pixels."""
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        # dlib accepts boxes partly outside the image; the 5-point model copes with it.
        shape = self._shape(rgb, self._rectangle(*box))
        return np.asarray(self._net.compute_face_descriptor(rgb, shape), dtype=np.float64)


def decode_image(data: bytes) -> np.ndarray:
    """BGR image from encoded bytes (JPEG, PNG, WebP, ...), EXIF rotation applied."""
    if not data:
        raise ImageDecodeError("empty upload: expected a JPEG or PNG photo")
    if too_many_pixels(data):
        raise ImageDecodeError(f"the image is larger than {MAX_PIXELS} pixels")
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageDecodeError("the uploaded file is not an image OpenCV can read (JPEG or PNG)")
    return image


def reference_descriptor(
    image_bgr: np.ndarray,
    detector: FaceDetector | None = None,
    verifier: FaceVerifier | None = None,
) -> np.ndarray:
    """Descriptor of the single face in an enrolment photo.

    Raises `EnrolmentError` with code `no_face`, `multiple_faces` or `face_too_small`.
    Models default to this thread's shared instances.
    """
    if detector is None or verifier is None:
        from detectors.models import shared_models

        models = shared_models()
        detector = detector or models.face_detector
        verifier = verifier or models.verifier
    faces = detector.detect_full(image_bgr)
    if not faces:
        raise EnrolmentError(
            "no_face",
            "No face was found in the photo. Use a well-lit, frontal photo of your face.",
        )
    if len(faces) > 1:
        raise EnrolmentError(
            "multiple_faces",
            f"{len(faces)} faces were found in the photo. Use a photo with only your face.",
        )
    h, w = image_bgr.shape[:2]
    face = faces[0]
    face_px = face.width * w
    if face_px < MIN_FACE_PIXELS or face_px < MIN_FACE_FRACTION * max(w, h):
        raise EnrolmentError(
            "face_too_small",
            f"The face is too small in the photo ({face_px:.0f} px wide). Move closer to "
            "the camera or crop the photo so that your face fills more of it.",
        )
    return verifier.describe(image_bgr, face)
