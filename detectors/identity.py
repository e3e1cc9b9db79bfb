"""Face identity: dlib's 128-D ResNet descriptor, and enrolment of a reference photo.

dlib gets its face box from BlazeFace (converted to a `dlib.rectangle`) instead of running
its own HOG detector, which misses small faces at upsample 0 and costs ~110 ms at 1. Only
the 5-point landmark model is used: the 68-point one is licensed for non-commercial use.
Distances between descriptors of the same person are below 0.6, different people above
(measured on the shared photos: same 0.23-0.43, different 0.68-0.89).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from detectors.base import IdentityBand
from detectors.errors import EnrolmentError, ImageDecodeError
from detectors.face_detector import Detection
from detectors.face_geometry import head_pose
from detectors.face_quality import ENROLMENT_GATES, REFUSALS, FaceQuality, measure, refusals
from detectors.image_header import MAX_PIXELS, too_many_pixels
from detectors.model_files import FACE_DESCRIPTOR, SHAPE_PREDICTOR_5, model_path

if TYPE_CHECKING:
    from detectors.models import Models

MATCH_THRESHOLD = 0.6
"""dlib's own threshold: above it two faces are taken to be different people. On a labelled
set of 61 photos of 13 people it sits at the equal-error point (same person up to 0.61,
look-alike strangers down to 0.51), so live checks use a band around it instead."""
NORMAL_BAND = IdentityBand(match_at_most=0.5, mismatch_above=0.65)
"""The normal preset's band (alerts/presets.py has all three). Same-person pairs measured
here are 0.44 at most undegraded and up to 0.52 degraded but usable (those are uncertain);
the closest stranger was 0.65 (bench/accuracy.py). In between is left to more checks."""
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


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What enrolment keeps of a reference photo."""

    descriptor: np.ndarray
    crop_jpeg: bytes
    """The face, square, `CROP_SIDE` px, for evidence a reviewer compares with the frame."""
    quality: FaceQuality


CROP_SIDE = 160
CROP_MARGIN = 1.5
"""The crop is the face box grown by half: hair, ears and chin, as a person recognises."""


def check_reference(
    image_bgr: np.ndarray, models: Models | None = None
) -> tuple[Detection, FaceQuality]:
    """The single face of a would-be reference photo and its quality, or `EnrolmentError`
    with the reason it would be refused: `no_face`, `multiple_faces`, or a gate of
    `ENROLMENT_GATES` (`face_too_small`, `face_cut`, `face_turned`, `face_blurred`,
    `face_too_dark`, `face_too_bright`, `face_noisy`)."""
    models = models or _thread_models()
    faces = models.face_detector.detect_full(image_bgr)
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
    mesh = models.face_mesh.landmarks(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), face)
    pose = None if mesh is None else head_pose(mesh, w, h)
    quality = measure(image_bgr, face, None if pose is None else pose.yaw)
    failed = refusals(quality, ENROLMENT_GATES)
    if quality.width_px < MIN_FACE_FRACTION * max(w, h) and "face_too_small" not in failed:
        failed.insert(0, "face_too_small")
    if failed:
        raise EnrolmentError(failed[0], _advice(failed[0], quality), quality, failed)
    return face, quality


def enrol(image_bgr: np.ndarray, models: Models | None = None) -> Enrolment:
    """Descriptor and face crop of a reference photo that passes `check_reference`."""
    models = models or _thread_models()
    face, quality = check_reference(image_bgr, models)
    descriptor = models.verifier.describe(image_bgr, face)
    return Enrolment(descriptor, face_crop_jpeg(image_bgr, face), quality)


def reference_descriptor(image_bgr: np.ndarray, models: Models | None = None) -> np.ndarray:
    """The descriptor `enrol` keeps (raises `EnrolmentError` like it)."""
    return enrol(image_bgr, models).descriptor


def face_crop_jpeg(image_bgr: np.ndarray, face: Detection) -> bytes:
    """The face and a margin as a square JPEG, `CROP_SIDE` px (grey where the photo ends)."""
    h, w = image_bgr.shape[:2]
    cx, cy = (face.xmin + face.xmax) / 2 * w, (face.ymin + face.ymax) / 2 * h
    half = max(face.width * w, face.height * h) * CROP_MARGIN / 2
    scale = CROP_SIDE / (2 * half)
    shift_x, shift_y = CROP_SIDE / 2 - cx * scale, CROP_SIDE / 2 - cy * scale
    affine = np.array([[scale, 0.0, shift_x], [0.0, scale, shift_y]])
    crop = cv2.warpAffine(
        image_bgr,
        affine,
        (CROP_SIDE, CROP_SIDE),
        flags=cv2.INTER_AREA,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(128, 128, 128),
    )
    ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode the face crop as JPEG")
    return bytes(data.tobytes())


def _advice(code: str, quality: FaceQuality) -> str:
    """What a candidate should do about a refused photo."""
    what = REFUSALS[code]
    if code == "face_too_small":
        return (
            f"{what} in the photo ({quality.width_px:.0f} px wide). Move closer to the "
            "camera or crop the photo so that your face fills more of it."
        )
    if code == "face_turned":
        return f"{what} ({abs(quality.yaw or 0):.0f} degrees). Look straight into the camera."
    if code == "face_blurred":
        return f"{what}. Hold still, wipe the lens and try again."
    if code in ("face_too_dark", "face_noisy"):
        return f"{what}. Turn on a light in front of you, not behind you."
    if code == "face_too_bright":
        return f"{what}. Move out of direct sunlight or away from a bright lamp."
    return f"{what}. Make sure all of your face is in the picture."


def _thread_models() -> Models:
    from detectors.models import shared_models

    return shared_models()
