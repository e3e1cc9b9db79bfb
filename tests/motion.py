"""A person in front of a webcam, moving naturally, made from real photos of that person.

`natural_frames` scripts, from a seed, what a candidate does over an exam: sitting with a
slight sway, turning the head (a cut to a real photo of the same person turned that way: no
photo is warped to fake a turn), leaning back or walking away from the desk and coming back.
The physics that go with it:

- the face shrinks with distance, and the desk lamp's light on it falls with the square of
  the distance; the camera's automatic gain brings the picture back to its brightness and
  multiplies its noise (`degrade.night`);
- moving blurs the face in proportion to its speed (a webcam exposes for 1/30 s indoors).

Frames are 320x240 (the capture size) at `fps`; `through_vp8` then sends them through the
same codec and bitrate as a live candidate's stream.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.face_detector import Detection
from tests import degrade

DATA = Path(__file__).parent / "data"
SIZE = (320, 240)
SEATED_PX = 90.0
"""Face width of a candidate at a laptop at 320x240, under the desk lamp."""

PEOPLE: dict[str, dict[str, str]] = {
    # pose -> tests/data photo; "~name" is that photo mirrored (the head turned the other way).
    "obama": {"frontal": "obama", "right": "obama2", "left": "~obama2", "left_a_little": "obama3"},
    "biden": {"frontal": "biden", "right": "~biden"},
    "collins": {"frontal": "astronaut", "right": "~astronaut"},
    "hopper": {"frontal": "grace_hopper", "right": "~grace_hopper"},
}


@dataclass(frozen=True, slots=True)
class Shot:
    """What the camera sees at one instant."""

    person: str
    pose: str
    face_px: float
    x: float
    """Face centre, fraction of the frame's width."""
    y: float
    blur: float
    """Motion blur, Gaussian sigma in pixels."""


@functools.cache
def _photo(name: str) -> tuple[np.ndarray, Detection]:
    from detectors.models import shared_models

    image = cv2.imread(str(DATA / f"{name.lstrip('~')}.jpg"), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(DATA / f"{name.lstrip('~')}.jpg")
    if name.startswith("~"):
        image = degrade.mirror(image)
    faces = shared_models().face_detector.detect_full(image)
    if len(faces) != 1:
        raise ValueError(f"{name}: expected one face, found {len(faces)}")
    image.setflags(write=False)
    return image, faces[0]


def render(shot: Shot, seed: int) -> np.ndarray:
    """The frame for one shot, lit by a lamp at the seated distance."""
    image, face = _photo(PEOPLE[shot.person][shot.pose])
    frame = degrade.place(image, face, shot.face_px, SIZE, (shot.x, shot.y))
    frame = degrade.blur(frame, shot.blur)
    light = min(1.0, (shot.face_px / SEATED_PX) ** 2)
    return degrade.night(frame, light, seed=seed)


def script(
    person: str, seconds: float, fps: float, seed: int, poses: list[str] | None = None
) -> list[Shot]:
    """A seeded, natural sequence of shots: sitting, turning, leaving the desk and back.
    `poses`: those of `PEOPLE[person]` to use (default all), the first one facing the camera
    (e.g. to leave out the photo the candidate enrolled with)."""
    rng = np.random.default_rng(seed)
    poses = poses or list(PEOPLE[person])
    frontal = poses[0]
    shots: list[Shot] = []
    t = 0.0
    size, pose = SEATED_PX, frontal

    def hold(duration: float, target_size: float, target_pose: str) -> None:
        nonlocal t, size, pose
        frames = max(1, round(duration * fps))
        start_size = size
        for i in range(frames):
            if len(shots) >= round(seconds * fps):
                return
            done = (i + 1) / frames
            previous = size
            # Ease in and out, as a person moves.
            size = start_size + (target_size - start_size) * (1 - math.cos(math.pi * done)) / 2
            pose = target_pose
            sway = 0.03 * math.sin(2 * math.pi * t / 5.0)
            speed = abs(size - previous)  # face px per frame
            shots.append(Shot(person, pose, size, 0.5 + sway, 0.45, blur=min(3.0, 0.25 * speed)))
            t += 1 / fps

    while len(shots) < round(seconds * fps):
        action = rng.choice(["sit", "turn", "away"], p=[0.45, 0.35, 0.2])
        if action == "sit":
            hold(float(rng.uniform(3, 8)), SEATED_PX * float(rng.uniform(0.9, 1.15)), frontal)
        elif action == "turn":
            turned = str(rng.choice(poses[1:])) if len(poses) > 1 else frontal
            hold(float(rng.uniform(1.5, 4)), size, turned)
        else:
            far = float(rng.uniform(26, 50))  # 2-3.5 times the seated distance
            hold(float(rng.uniform(1.5, 3)), far, frontal)
            hold(float(rng.uniform(2, 5)), far, frontal)
            hold(float(rng.uniform(1.5, 3)), SEATED_PX, frontal)
    return shots


def natural_frames(shots: list[Shot], seed: int = 0) -> list[np.ndarray]:
    """The shots rendered and sent through VP8, as the server decodes them."""
    return through_vp8([render(shot, seed * 1_000_003 + i) for i, shot in enumerate(shots)])


def through_vp8(frames: list[np.ndarray], fps: int = 5) -> list[np.ndarray]:
    """As the server decodes them from a live candidate (80 kbit/s at 320x240)."""
    return degrade.vp8(frames, kbps=80, fps=fps)
