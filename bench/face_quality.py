"""Where the usable-face gates come from: how far each webcam degradation moves the identity
distance, next to the quality figure the gate reads.

    python bench/face_quality.py

Real photos (../shared/faces, or tests/data when that folder is absent): the three photos of
Barack Obama are compared with each other (6 same-person pairs, each reference enrolled from
the full photo), and Joe Biden, Eileen Collins and Grace Hopper with everyone else (stranger
pairs). Each probe is placed in a 320x240 frame (the capture size) with its face 90 px wide,
then degraded step by step (tests/degrade.py). For every step the table gives the median of
the quality figure the gate reads, the same-person distances (median, max, and the median
rise over the undegraded step), the smallest stranger distance, and the share of probes the
live gates (`detectors.face_quality.LIVE_GATES`) refuse. A gate's threshold is the step
past which the median same-person rise exceeds 0.1 (detectors/face_quality.py).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.face_quality import LIVE_GATES, FaceQuality, measure, refusal  # noqa: E402
from detectors.identity import distance  # noqa: E402
from detectors.models import Models, shared_models  # noqa: E402
from tests import degrade  # noqa: E402

SHARED = ROOT.parent / "shared" / "faces"
PEOPLE = {
    "obama": ("obama.jpg", "obama2.jpg", "obama3.jpg"),
    "biden": ("biden.jpg",),
    "collins": ("astronaut.png",),
    "hopper": ("grace_hopper.jpg",),
}
BLURS = (0, 1, 1.5, 2, 2.5, 3, 4)
DARK = (1, 0.3, 0.1, 0.05, 0.03, 0.02, 0.01, 0.006)
NIGHT = (1, 0.3, 0.1, 0.05, 0.03, 0.02)
FACE_PX = 90.0
"""A candidate at a laptop, at 320x240: the face is a quarter to a third of the width."""


Metric = tuple[str, Callable[[FaceQuality], float]]


@dataclass(frozen=True)
class Photo:
    person: str
    name: str
    image: np.ndarray


def photos() -> list[Photo]:
    """Every photo of `PEOPLE`, from ../shared/faces or else tests/data."""
    found = []
    for person, names in PEOPLE.items():
        for name in names:
            path = SHARED / name
            if not path.exists():
                path = ROOT / "tests" / "data" / (Path(name).stem + ".jpg")
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                found.append(Photo(person, Path(name).stem, image))
    if not any(p.person == "obama" for p in found):
        raise SystemExit("no photo of the same person twice: need ../shared/faces")
    return found


def largest_face(models: Models, bgr: np.ndarray):  # type: ignore[no-untyped-def]
    faces = models.face_detector.detect_full(bgr)
    return faces[0] if faces else None


def head_pose_of(models: Models, bgr: np.ndarray, face) -> tuple[float, float] | None:  # type: ignore[no-untyped-def]
    from detectors.face_geometry import head_pose

    mesh = models.face_mesh.landmarks(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), face)
    pose = None if mesh is None else head_pose(mesh, bgr.shape[1], bgr.shape[0])
    return None if pose is None else (pose.yaw, pose.pitch)


@dataclass
class Row:
    step: str
    metric: float
    same: list[float]
    strangers: list[float]
    refused: int
    missed: int
    probes: int


def sweep(
    models: Models,
    people: list[Photo],
    references: dict[str, np.ndarray],
    steps: list[tuple[str, Callable[[Photo], np.ndarray]]],
    metric: Callable[[FaceQuality], float],
) -> list[Row]:
    rows = []
    for label, make in steps:
        row = Row(label, 0.0, [], [], 0, 0, 0)
        metrics = []
        for probe in people:
            frame = make(probe)
            face = largest_face(models, frame)
            row.probes += 1
            if face is None:
                row.missed += 1
                continue
            quality = measure(frame, face)
            metrics.append(metric(quality))
            row.refused += refusal(quality, LIVE_GATES) is not None
            descriptor = models.verifier.describe(frame, face)
            for ref_name, reference in references.items():
                ref_person = next(p.person for p in people if p.name == ref_name)
                if ref_name == probe.name:
                    continue
                d = distance(descriptor, reference)
                (row.same if ref_person == probe.person else row.strangers).append(d)
        row.metric = statistics.median(metrics) if metrics else float("nan")
        rows.append(row)
    return rows


def print_rows(title: str, metric_name: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(
        f"{'step':>12} {metric_name:>11} {'same med':>9} {'same max':>9} {'rise':>6} "
        f"{'stranger min':>13} {'refused':>8} {'no face':>8}"
    )
    base = statistics.median(rows[0].same) if rows[0].same else float("nan")
    for r in rows:
        med = statistics.median(r.same) if r.same else float("nan")
        top = max(r.same) if r.same else float("nan")
        low = min(r.strangers) if r.strangers else float("nan")
        print(
            f"{r.step:>12} {r.metric:>11.3f} {med:>9.3f} {top:>9.3f} {med - base:>+6.3f} "
            f"{low:>13.3f} {r.refused:>4}/{r.probes:<3} {r.missed:>4}/{r.probes:<3}"
        )


def vp8_still(frame: np.ndarray) -> np.ndarray:
    """The frame as the server decodes it after 3 s of a still VP8 stream (5 fps, 80 kbit/s,
    2 grey levels of sensor noise so the encoder keeps working)."""
    return degrade.vp8([degrade.noise(frame, 2.0, seed=i) for i in range(15)])[-1]


def main() -> None:
    models = shared_models()
    people = photos()
    faces = {p.name: largest_face(models, p.image) for p in people}
    references = {
        p.name: models.verifier.describe(p.image, faces[p.name])  # type: ignore[arg-type]
        for p in people
    }

    def placed(probe: Photo, px: float = FACE_PX, centre: tuple[float, float] = (0.5, 0.45)):  # type: ignore[no-untyped-def]
        face = faces[probe.name]
        assert face is not None
        return degrade.place(probe.image, face, px, centre=centre)

    print(f"photos: {', '.join(p.name for p in people)}; faces {FACE_PX:.0f} px in 320x240")
    print("pose of each probe at 90 px (yaw, pitch; absolute, uncalibrated):")
    for p in people:
        frame = placed(p)
        face = largest_face(models, frame)
        pose = head_pose_of(models, frame, face) if face else None
        print(f"  {p.name:>14}: {'-' if pose is None else f'{pose[0]:+.0f}, {pose[1]:+.0f}'}")

    def at(px: float = FACE_PX, x: float = 0.5) -> Callable[[Photo], np.ndarray]:
        return lambda probe: placed(probe, px, (x, 0.45))

    def then(make: Callable[[np.ndarray], np.ndarray]) -> Callable[[Photo], np.ndarray]:
        return lambda probe: make(placed(probe))

    width: Metric = ("width px", lambda q: q.width_px)
    experiments: list[tuple[str, Metric, list[tuple[str, Callable[[Photo], np.ndarray]]]]] = [
        ("face size", width, [(f"{px} px", at(px)) for px in (110, 90, 64, 48, 40, 32, 24)]),
        (
            "face size, VP8 80 kbit/s",
            width,
            [
                (f"{px} px", lambda p, px=px: vp8_still(placed(p, px)))
                for px in (90, 64, 48, 40, 32, 24)
            ],
        ),
        (
            "cut by the left edge",
            ("inside", lambda q: q.inside),
            [(f"x={x:.2f}", at(x=x)) for x in (0.5, 0.12, 0.1, 0.07, 0.05, 0.03)],
        ),
        (
            "defocus / motion blur",
            ("sharpness", lambda q: q.sharpness),
            [(f"sigma {s:g}", then(partial(degrade.blur, sigma=s))) for s in BLURS],
        ),
        (
            "dark, no automatic gain",
            ("brightness", lambda q: q.brightness),
            [(f"light {g:g}", then(partial(degrade.dark, gain=g))) for g in DARK],
        ),
        (
            "dark, no automatic gain",
            ("contrast", lambda q: q.contrast),
            [(f"light {g:g}", then(partial(degrade.dark, gain=g))) for g in DARK],
        ),
        (
            "dark, automatic gain",
            ("noise", lambda q: q.noise),
            [(f"light {g:g}", then(partial(degrade.night, gain=g))) for g in NIGHT],
        ),
        (
            "over-exposed",
            ("brightness", lambda q: q.brightness),
            [(f"light x{g:g}", then(partial(degrade.dark, gain=g))) for g in (1, 2, 3, 4, 5, 6)],
        ),
        (
            "JPEG",
            ("sharpness", lambda q: q.sharpness),
            [(f"q {q}", then(partial(degrade.jpeg, quality=q))) for q in (95, 50, 20, 10, 5)],
        ),
    ]
    for title, (metric_name, metric), steps in experiments:
        rows = sweep(models, people, references, steps, metric)
        print_rows(title, metric_name, rows)


if __name__ == "__main__":
    main()
