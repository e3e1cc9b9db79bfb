"""MediaPipe face mesh (468 points) and iris landmarks on a face found by BlazeFace.

Both models look at a rotated square crop: the face crop is turned so the eyes are level,
the eye crops so the eye corners are level. One affine matrix per crop maps model
coordinates back to the frame, so landmarks come out in frame pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.face_detector import Detection
from detectors.model_files import FACE_LANDMARK, IRIS_LANDMARK, model_path
from detectors.tflite import Runtime, TFLiteModel

FACE_ROI_SCALE = 1.5  # MediaPipe: the mesh expects the face with a 25% margin each side
EYE_ROI_SCALE = 2.3  # MediaPipe: eye corners span about 1/2.3 of the iris model's crop
MIN_FACE_PRESENCE = 0.5

# Mesh indices of the eye corners. Eye A is the one on the image's left.
EYE_A_CORNERS = (33, 133)
EYE_B_CORNERS = (362, 263)


@dataclass(frozen=True, slots=True)
class RotatedRect:
    """A square crop in frame pixels: centre, side length and rotation (radians)."""

    cx: float
    cy: float
    size: float
    angle: float


def _affine(rect: RotatedRect, tensor_size: int, flip: bool) -> np.ndarray:
    """Affine from model-input coordinates to frame coordinates (both continuous)."""
    s = rect.size / tensor_size
    cos, sin = math.cos(rect.angle) * s, math.sin(rect.angle) * s
    half = tensor_size / 2.0
    # (a, b): offset from the crop centre in crop units; flipping mirrors a.
    fx = -1.0 if flip else 1.0
    # frame_x = cx + cos*a - sin*b, frame_y = cy + sin*a + cos*b, a = fx*(u - half), b = v - half
    return np.array(
        [
            [fx * cos, -sin, rect.cx - fx * cos * half + sin * half],
            [fx * sin, cos, rect.cy - fx * sin * half - cos * half],
        ],
        dtype=np.float64,
    )


def _crop(frame_rgb: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """Sample the crop described by `affine` (model -> frame, continuous coordinates)."""
    # warpAffine works on pixel indices; continuous = index + 0.5 on both sides.
    to_index = affine.copy()
    to_index[:, 2] += affine[:, 0] * 0.5 + affine[:, 1] * 0.5 - 0.5
    crop = cv2.warpAffine(
        frame_rgb,
        to_index,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return crop.astype(np.float32)[np.newaxis] * (1.0 / 255.0)


def _project(points: np.ndarray, affine: np.ndarray, size: int, rect: RotatedRect) -> np.ndarray:
    """(n, 3) model-space points -> frame pixels (x, y) and z scaled like x."""
    out = np.empty_like(points, dtype=np.float64)
    out[:, :2] = points[:, :2] @ affine[:, :2].T + affine[:, 2]
    out[:, 2] = points[:, 2] * (rect.size / size)
    return out


def _angle(p0: np.ndarray, p1: np.ndarray) -> float:
    """Rotation that makes the vector p0 -> p1 point along +x (MediaPipe's convention)."""
    angle = -math.atan2(-(p1[1] - p0[1]), p1[0] - p0[0])
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def face_roi(detection: Detection, width: int, height: int) -> RotatedRect:
    """The mesh crop for a BlazeFace detection: square on the longer side, eyes level."""
    kp = detection.keypoints * (width, height)
    side = max(detection.width * width, detection.height * height) * FACE_ROI_SCALE
    cx = (detection.xmin + detection.xmax) / 2 * width
    cy = (detection.ymin + detection.ymax) / 2 * height
    return RotatedRect(cx, cy, side, _angle(kp[0], kp[1]))


def eye_roi(mesh: np.ndarray, corners: tuple[int, int]) -> RotatedRect:
    """The iris crop around two eye corners of the mesh (frame pixels)."""
    p0, p1 = mesh[corners[0], :2], mesh[corners[1], :2]
    lo, hi = np.minimum(p0, p1), np.maximum(p0, p1)
    side = float(max(hi - lo)) * EYE_ROI_SCALE
    centre = (lo + hi) / 2
    return RotatedRect(float(centre[0]), float(centre[1]), side, _angle(p0, p1))


@dataclass(frozen=True, slots=True)
class Eye:
    """Iris model output for one eye, in frame pixels (x, y, z)."""

    contour: np.ndarray
    """(71, 3): 0-8 lower lid corner to corner, 9-15 upper lid, then halos and brow."""
    iris: np.ndarray
    """(5, 3): centre, then four points on the iris edge."""


class FaceMesh:
    """468-point face mesh. Not thread-safe: one instance per thread."""

    def __init__(self, runtime: Runtime = "litert") -> None:
        self.model = TFLiteModel(model_path(FACE_LANDMARK), runtime)
        self.size = self.model.input_size[0]

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> np.ndarray | None:
        """(468, 3) points in frame pixels, or None when the model sees no face."""
        h, w = rgb.shape[:2]
        rect = face_roi(detection, w, h)
        affine = _affine(rect, self.size, flip=False)
        out = self.model.run(_crop(rgb, affine, self.size))
        presence = float(out["conv2d_30"].reshape(-1)[0])
        if 1.0 / (1.0 + math.exp(-max(min(presence, 80.0), -80.0))) < MIN_FACE_PRESENCE:
            return None
        points = out["conv2d_20"].reshape(-1, 3).astype(np.float64)
        return _project(points, affine, self.size, rect)


class IrisModel:
    """Eye contour and iris for one eye crop. Not thread-safe: one instance per thread."""

    def __init__(self, runtime: Runtime = "litert") -> None:
        self.model = TFLiteModel(model_path(IRIS_LANDMARK), runtime)
        self.size = self.model.input_size[0]

    def eyes(self, rgb: np.ndarray, mesh: np.ndarray) -> tuple[Eye, Eye]:
        """Both eyes: (A, B) = (image-left eye, image-right eye)."""
        return self._eye(rgb, mesh, EYE_A_CORNERS, False), self._eye(rgb, mesh, EYE_B_CORNERS, True)

    def _eye(self, rgb: np.ndarray, mesh: np.ndarray, corners: tuple[int, int], flip: bool) -> Eye:
        # The model was trained on one side; the other eye is mirrored to look like it.
        rect = eye_roi(mesh, corners)
        affine = _affine(rect, self.size, flip=flip)
        out = self.model.run(_crop(rgb, affine, self.size))
        contour = out["output_eyes_contours_and_brows"].reshape(-1, 3).astype(np.float64)
        iris = out["output_iris"].reshape(-1, 3).astype(np.float64)
        return Eye(
            _project(contour, affine, self.size, rect), _project(iris, affine, self.size, rect)
        )
