"""BlazeFace full-range face detection (MediaPipe's model), decoded in numpy.

The model sees a 192x192 letterboxed RGB image in [-1, 1] and predicts, for each of 2304
anchors (a 48x48 grid, one anchor per cell), a face logit and a box with six keypoints
relative to the anchor. Decoding and weighted NMS follow MediaPipe's
TensorsToDetectionsCalculator and NonMaxSuppressionCalculator (weighted mode), which
average overlapping boxes instead of keeping only the best one: steadier boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detectors.base import FaceBox
from detectors.model_files import FACE_DETECTION, model_path
from detectors.tflite import Runtime, TFLiteModel

INPUT_SIZE = 192
GRID = 48
MIN_SCORE = 0.5
NMS_IOU = 0.3
# MediaPipe clips raw logits at 100; 80 keeps exp() finite in float32.
RAW_SCORE_LIMIT = 80.0


def _anchors() -> np.ndarray:
    """Anchor centres (x, y), normalised, row-major over the 48x48 grid."""
    centres = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


@dataclass(frozen=True, slots=True)
class Detection:
    """One face in normalised image coordinates, with BlazeFace's six keypoints."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    score: float
    keypoints: np.ndarray
    """(6, 2) normalised x, y: right eye, left eye (subject's), nose tip, mouth, right
    ear tragion, left ear tragion. On an unmirrored image the first is on the image left."""

    @property
    def width(self) -> float:
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        return self.ymax - self.ymin

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def to_face_box(self) -> FaceBox:
        """Clipped to the image, for overlays."""
        x0, y0 = min(max(self.xmin, 0.0), 1.0), min(max(self.ymin, 0.0), 1.0)
        x1, y1 = min(max(self.xmax, 0.0), 1.0), min(max(self.ymax, 0.0), 1.0)
        return FaceBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0, score=self.score)

    def pixel_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels, not clipped."""
        return (
            round(self.xmin * width),
            round(self.ymin * height),
            round(self.xmax * width),
            round(self.ymax * height),
        )


class FaceDetector:
    """Finds faces in a BGR frame. Not thread-safe: one instance per thread."""

    def __init__(self, runtime: Runtime = "litert", min_score: float = MIN_SCORE) -> None:
        self.model = TFLiteModel(model_path(FACE_DETECTION), runtime)
        self.min_score = min_score
        self._anchors = _anchors()

    def detect(self, bgr: np.ndarray) -> list[FaceBox]:
        """Faces as normalised boxes, largest first."""
        return [d.to_face_box() for d in self.detect_full(bgr)]

    def detect_full(self, bgr: np.ndarray) -> list[Detection]:
        """Faces with keypoints, largest first."""
        tensor, pad_x, pad_y = _letterbox(bgr)
        out = self.model.run(tensor)
        raw_boxes = out["reshaped_regressor_face_4"].reshape(-1, 16)
        logits = out["reshaped_classifier_face_4"].reshape(-1)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        keep = scores > self.min_score
        if not keep.any():
            return []
        data = _decode(raw_boxes[keep], self._anchors[keep])
        merged = _weighted_nms(data, scores[keep], NMS_IOU)
        # Undo the letterbox: tensor coordinates -> image coordinates.
        scale = np.array([1.0 - 2 * pad_x, 1.0 - 2 * pad_y], dtype=np.float32)
        shift = np.array([pad_x, pad_y], dtype=np.float32)
        faces = []
        for points, score in merged:
            pts = (points - shift) / scale
            (x0, y0), (x1, y1) = pts[0], pts[1]
            if x1 <= x0 or y1 <= y0:
                continue
            faces.append(
                Detection(float(x0), float(y0), float(x1), float(y1), score, pts[2:].copy())
            )
        faces.sort(key=lambda d: d.area, reverse=True)
        return faces


def _letterbox(bgr: np.ndarray) -> tuple[np.ndarray, float, float]:
    """192x192 RGB tensor in [-1, 1] keeping the aspect ratio; returns the padding
    fractions (per side) along x and y."""
    h, w = bgr.shape[:2]
    scale = INPUT_SIZE / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_AREA: the frame is always shrunk here, and area averaging avoids aliasing.
    small = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    left, top = (INPUT_SIZE - new_w) // 2, (INPUT_SIZE - new_h) // 2
    canvas[top : top + new_h, left : left + new_w] = small
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    tensor = rgb.astype(np.float32)[np.newaxis] * (2.0 / 255.0) - 1.0
    return tensor, left / INPUT_SIZE, top / INPUT_SIZE


def _decode(raw: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(n, 16) raw regressions -> (n, 8, 2): box min, box max, 6 keypoints, normalised."""
    pts = raw.reshape(-1, 8, 2) / INPUT_SIZE
    centre = pts[:, 0] + anchors
    half = pts[:, 1] / 2.0
    out = np.empty_like(pts)
    out[:, 0] = centre - half
    out[:, 1] = centre + half
    out[:, 2:] = pts[:, 2:] + anchors[:, np.newaxis, :]
    return out


def _weighted_nms(
    data: np.ndarray, scores: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted NMS: each kept detection is the score-weighted mean of every
    remaining detection overlapping the best one by more than `iou_threshold`."""
    order = np.argsort(-scores)
    data, scores = data[order], scores[order]
    mins, maxs = data[:, 0], data[:, 1]
    areas = np.prod(np.clip(maxs - mins, 0.0, None), axis=1)
    remaining = np.arange(len(scores))
    results: list[tuple[np.ndarray, float]] = []
    while remaining.size:
        best = remaining[0]
        inter_min = np.maximum(mins[remaining], mins[best])
        inter_max = np.minimum(maxs[remaining], maxs[best])
        inter = np.prod(np.clip(inter_max - inter_min, 0.0, None), axis=1)
        union = areas[remaining] + areas[best] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        similar = remaining[iou > iou_threshold]
        if similar.size == 0:  # degenerate box: keep it alone
            similar = np.array([best])
        weights = scores[similar]
        merged = (data[similar] * weights[:, None, None]).sum(axis=0) / weights.sum()
        results.append((merged.astype(np.float32), float(scores[best])))
        remaining = remaining[iou <= iou_threshold]
        remaining = remaining[remaining != best]
    return results
