"""Numbers derived from landmarks: head pose, gaze and mouth opening.

All cheap (well under a millisecond); the models that produce the landmarks live in
`face_mesh.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.face_mesh import Eye

# Generic 3D face (millimetres, a common average head) in a camera-like frame: x to the
# image right, y down, z away from the camera. A frontal face then has rotation ~0.
# Paired with these mesh indices: nose tip, chin, outer eye corners, mouth corners.
POSE_MESH_INDICES = (1, 152, 33, 263, 61, 291)
POSE_MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, 330.0, 65.0),
        (-225.0, -170.0, 135.0),
        (225.0, -170.0, 135.0),
        (-150.0, 150.0, 125.0),
        (150.0, 150.0, 125.0),
    ],
    dtype=np.float64,
)

# Inner lips (upper, lower) and inner mouth corners.
MOUTH_INNER = (13, 14, 78, 308)

# Contour indices of the iris model's eye output: lid corners and lid midpoints.
_CORNER_0, _CORNER_8, _LOWER_MID, _UPPER_MID = 0, 8, 4, 12
# 1.0 of gaze = iris centre moved this fraction of the eye width from the eye centre,
# about where the iris meets a corner.
GAZE_X_SPAN = 0.3
# Vertical travel is smaller: the lids follow the iris.
GAZE_Y_SPAN = 0.12


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head rotation in degrees, in the camera's frame (absolute, not calibrated)."""

    yaw: float
    """Turn left/right; sign flips on a mirrored image."""
    pitch: float
    """Nod up/down (positive: chin down)."""
    roll: float
    """Tilt towards a shoulder."""


def head_pose(mesh: np.ndarray, width: int, height: int) -> HeadPose | None:
    """Head pose from six mesh points with cv2.solvePnP and a pinhole camera guess."""
    image_points = mesh[list(POSE_MESH_INDICES), :2].astype(np.float64)
    # Webcams are roughly 60-70 degrees wide: focal length about the image width.
    focal = float(width)
    camera = np.array(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]],
        dtype=np.float64,
    )
    ok, rvec, _tvec = cv2.solvePnP(
        POSE_MODEL_POINTS, image_points, camera, None, flags=cv2.SOLVEPNP_SQPNP
    )
    if not ok:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    # Euler angles for R = Rz(roll) @ Ry(yaw) @ Rx(pitch).
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def mouth_open_ratio(mesh: np.ndarray) -> float:
    """Gap between the inner lips over the mouth width: ~0 closed, ~0.3+ wide open."""
    upper, lower, left, right = (mesh[i, :2] for i in MOUTH_INNER)
    width = float(np.linalg.norm(right - left))
    if width <= 1e-6:
        return 0.0
    return float(np.linalg.norm(lower - upper)) / width


def eye_gaze(eye: Eye) -> tuple[float, float]:
    """Iris offset from the eye's centre, in the eye's own axes: x to the image right,
    y down, each clipped to -1..1 (see GAZE_X_SPAN / GAZE_Y_SPAN)."""
    c0, c8 = eye.contour[_CORNER_0, :2], eye.contour[_CORNER_8, :2]
    left, right = (c0, c8) if c0[0] <= c8[0] else (c8, c0)
    axis = right - left
    eye_width = float(np.linalg.norm(axis))
    if eye_width <= 1e-6:
        return 0.0, 0.0
    ex = axis / eye_width
    ey = np.array([-ex[1], ex[0]])  # ex rotated 90 degrees: points down the image
    iris = eye.iris[0, :2]
    centre_x = (left + right) / 2
    lids_mid = (eye.contour[_UPPER_MID, :2] + eye.contour[_LOWER_MID, :2]) / 2
    gx = float(np.dot(iris - centre_x, ex)) / (GAZE_X_SPAN * eye_width)
    gy = float(np.dot(iris - lids_mid, ey)) / (GAZE_Y_SPAN * eye_width)
    return max(-1.0, min(1.0, gx)), max(-1.0, min(1.0, gy))


def gaze(eyes: tuple[Eye, Eye]) -> tuple[float, float]:
    """Mean of both eyes' gaze: both irises move together, averaging halves the noise."""
    (ax, ay), (bx, by) = eye_gaze(eyes[0]), eye_gaze(eyes[1])
    return (ax + bx) / 2, (ay + by) / 2
