"""Camera covered / dark / frozen checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detectors.camera import CameraCheck, CameraSettings

DATA = Path(__file__).parent / "data"


_PHOTO = cv2.imread(str(DATA / "obama.jpg"))
assert _PHOTO is not None
SCENE = cv2.resize(_PHOTO, (640, 480)).astype(np.float32)


def webcam_frame(rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    """A still candidate as a real webcam sends it: same scene, fresh sensor noise."""
    noise = rng.standard_normal(SCENE.shape, dtype=np.float32) * sigma
    return np.clip(SCENE + noise, 0, 255).astype(np.uint8)


def test_black_frame_is_dark_and_covered() -> None:
    state = CameraCheck().update(np.zeros((480, 640, 3), np.uint8), 0.0)
    assert state.dark and state.covered and state.blocked
    assert "dark" in state.describe()


def test_flat_colour_is_covered_but_not_dark() -> None:
    # A hand over the lens in a lit room: one flat skin colour.
    frame = np.full((480, 640, 3), (120, 150, 190), np.uint8)
    state = CameraCheck().update(frame, 0.0)
    assert state.covered and not state.dark


def test_live_still_candidate_is_not_blocked() -> None:
    rng = np.random.default_rng(1)
    check = CameraCheck()
    states = [check.update(webcam_frame(rng), i / 5) for i in range(40)]  # 8 s at 5 fps
    assert not any(s.blocked for s in states)


def test_identical_frames_freeze_after_a_few_seconds() -> None:
    frame = webcam_frame(np.random.default_rng(2))
    check = CameraCheck(CameraSettings(frozen_seconds=5.0))
    states = {round(i / 10, 1): check.update(frame.copy(), i / 10) for i in range(80)}
    assert not states[4.0].frozen
    assert states[5.0].frozen and states[7.9].frozen
    assert "frozen" in states[6.0].describe()
    # The picture changes again: no longer frozen.
    assert not check.update(webcam_frame(np.random.default_rng(3)), 8.0).frozen


def test_near_identical_frames_still_count_as_frozen() -> None:
    # A frozen source re-encoded by the browser differs by a grey level here and there.
    rng = np.random.default_rng(4)
    base = webcam_frame(rng)
    check = CameraCheck()
    for i in range(70):
        frame = base.copy()
        y, x = rng.integers(0, 480), rng.integers(0, 640)
        frame[y, x] ^= 1
        state = check.update(frame, i / 10)
    assert state.frozen
