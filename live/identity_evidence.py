"""Evidence for `face_mismatch`: the enrolled face beside the frame, with the distance.

A reviewer, not the descriptor, decides whether it is another person; they need both faces
side by side at a readable size and the number the check saw.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["beside_reference"]

MIN_HEIGHT = 240
CAPTION_HEIGHT = 44
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def beside_reference(frame_bgr: np.ndarray, reference_jpeg: bytes, caption: str) -> np.ndarray:
    """[enrolled face | frame] over a caption strip. A reference that cannot be decoded
    leaves the frame alone (the evidence is still the frame)."""
    crop = cv2.imdecode(np.frombuffer(reference_jpeg, np.uint8), cv2.IMREAD_COLOR)
    if crop is None:
        return frame_bgr
    height = max(MIN_HEIGHT, frame_bgr.shape[0])
    frame = _to_height(frame_bgr, height)
    crop = _to_height(crop, height)
    pictures = np.hstack([crop, np.full((height, 4, 3), 255, np.uint8), frame])
    strip = np.full((CAPTION_HEIGHT, pictures.shape[1], 3), 32, np.uint8)
    white = (255, 255, 255)
    cv2.putText(strip, "enrolled", (6, 16), _FONT, 0.45, white, 1, cv2.LINE_AA)
    cv2.putText(strip, "in view", (crop.shape[1] + 10, 16), _FONT, 0.45, white, 1, cv2.LINE_AA)
    cv2.putText(strip, caption[:80], (6, 36), _FONT, 0.45, (120, 200, 255), 1, cv2.LINE_AA)
    return np.vstack([pictures, strip])


def _to_height(image: np.ndarray, height: int) -> np.ndarray:
    if image.shape[0] == height:
        return image
    scale = height / image.shape[0]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
