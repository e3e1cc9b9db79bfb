"""How often the face and identity detectors are right, on real photos degraded as webcams
degrade them, and what that means for a live candidate.

    python bench/accuracy.py [--minutes 20] [--swaps 3]

Prints, as markdown tables (BENCHMARKS.md, "Accuracy"):

1. Face count: the share of frames where BlazeFace counts the faces right: every real photo
   (one face each), two people side by side, and photos with no face (a cat, a cup), in a
   320x240 frame, clean and degraded.
2. Identity, per check: every reference (enrolled from a full photo) against every probe
   photo of the same person (false reject: judged a mismatch) and of other people (false
   accept: judged a match), clean and degraded, with the share of probes the gates refuse
   (unusable: no verdict) and left uncertain. For the three presets' bands and for the
   behaviour before the gates and the band (one threshold at 0.6, every face judged).
3. Stream: `--minutes` of one real person moving naturally (tests/motion.py: sitting,
   turning, leaving the desk and back, light falling with distance; VP8 at 80 kbit/s;
   analysed 2.5 times a second), through the analyser and each preset's rules: seconds of
   false face_mismatch per hour. Then `--swaps` seeds of each other person taking the seat:
   seconds from the swap to the alert.

Photos: ../shared/faces (tests/data when absent). Four people, of whom only one has several
photos; see README.md, "What the accuracy figures cannot show".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.engine import RuleEngine  # noqa: E402
from alerts.presets import IDENTITY_BANDS, RuleBook, resolve_rules  # noqa: E402
from core.kinds import AlertKind  # noqa: E402
from detectors.base import IdentityBand, IdentityVerdict  # noqa: E402
from detectors.face_quality import LIVE_GATES, QualityGates, measure, refusal  # noqa: E402
from detectors.identity import distance  # noqa: E402
from detectors.models import Models, shared_models  # noqa: E402
from detectors.pipeline import AnalyzerSettings, FrameAnalyzer  # noqa: E402
from tests import degrade, motion  # noqa: E402

SHARED = ROOT.parent / "shared" / "faces"
PHOTOS = {
    # name: (person, derived from) - the partial faces are crops of obama.jpg
    "obama": ("obama", "obama"),
    "obama2": ("obama", "obama2"),
    "obama3": ("obama", "obama3"),
    "obama_partial_face": ("obama", "obama"),
    "obama_partial_face2": ("obama", "obama"),
    "biden": ("biden", "biden"),
    "astronaut": ("collins", "astronaut"),
    "grace_hopper": ("hopper", "grace_hopper"),
}
NO_FACE = ("chelsea", "coffee")
FACE_PX = motion.SEATED_PX

OPEN_GATES = QualityGates(0, 0, None, None, 0, 0, 256, 0, float("inf"))
LEGACY = "before (0.6, no gates)"
"""The behaviour this replaced: one threshold at dlib's 0.6, every face judged, a face
rechecked 2 s after a mismatch, two mismatching checks in a row alert at once."""


def legacy_settings() -> AnalyzerSettings:
    return AnalyzerSettings(
        identity_band=IdentityBand(0.6, 0.6), quality_gates=OPEN_GATES, identity_recheck=2.0
    )


def legacy_rules() -> RuleBook:
    overrides = {"face_mismatch": {"min_hits": 2, "start_after": 0, "hits_within": None}}
    return replace(resolve_rules("normal", overrides), identity=IdentityBand(0.6, 0.6))


CONFIGS: dict[str, tuple[AnalyzerSettings, RuleBook]] = {
    LEGACY: (legacy_settings(), legacy_rules()),
    **{
        name: (AnalyzerSettings(identity_band=IDENTITY_BANDS[name]), resolve_rules(name))
        for name in ("strict", "normal", "lenient")
    },
}

Degrade = Callable[[np.ndarray], np.ndarray]


def vp8_still(frame: np.ndarray) -> np.ndarray:
    """After 3 s of a still VP8 stream (5 fps, 80 kbit/s, sensor noise)."""
    return degrade.vp8([degrade.noise(frame, 2.0, seed=i) for i in range(15)])[-1]


def moving(frame: np.ndarray) -> np.ndarray:
    """A head moving at ~8 face px a frame: motion blur, then VP8 with the picture moving."""
    shifted = [np.roll(frame, 3 * i, axis=1) for i in range(15)]
    return degrade.vp8([degrade.blur(f, 2.0) for f in shifted])[-1]


DEGRADATIONS: dict[str, tuple[float, Degrade]] = {
    # label: (face width, degradation)
    "clean, 90 px face": (FACE_PX, lambda f: f),
    "far: 40 px face": (40, lambda f: f),
    "far: 30 px face": (30, lambda f: f),
    "mirrored (turned the other way)": (FACE_PX, degrade.mirror),
    "low light, no gain (1/30)": (FACE_PX, partial(degrade.dark, gain=1 / 30)),
    "low light, auto gain (1/10)": (FACE_PX, partial(degrade.night, gain=0.1)),
    "low light, auto gain (1/20)": (FACE_PX, partial(degrade.night, gain=0.05)),
    "noise sigma 10": (FACE_PX, partial(degrade.noise, sigma=10)),
    "defocus sigma 1.5 px": (FACE_PX, partial(degrade.blur, sigma=1.5)),
    "defocus sigma 2.5 px": (FACE_PX, partial(degrade.blur, sigma=2.5)),
    "JPEG quality 20": (FACE_PX, partial(degrade.jpeg, quality=20)),
    "VP8 80 kbit/s, still": (FACE_PX, vp8_still),
    "VP8 80 kbit/s, moving": (FACE_PX, moving),
}


@dataclass(frozen=True)
class Photo:
    name: str
    person: str
    source: str
    image: np.ndarray


def load_photos() -> list[Photo]:
    photos = []
    for name, (person, source) in PHOTOS.items():
        for path in (
            SHARED / f"{name}.jpg",
            SHARED / f"{name}.png",
            ROOT / "tests/data" / f"{name}.jpg",
        ):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.exists() else None
            if image is not None:
                photos.append(Photo(name, person, source, image))
                break
    return photos


def largest(models: Models, bgr: np.ndarray):  # type: ignore[no-untyped-def]
    faces = models.face_detector.detect_full(bgr)
    return faces[0] if faces else None


# --- 1. face count ------------------------------------------------------------------------


def two_people(a: np.ndarray, b: np.ndarray, models: Models) -> np.ndarray:
    """Two photos side by side in one 320x240 frame, faces 60 px wide."""
    halves = []
    for image in (a, b):
        face = largest(models, image)
        halves.append(degrade.place(image, face, 60, (160, 240), (0.5, 0.4)))
    return np.ascontiguousarray(np.hstack(halves))


def face_count_table(models: Models, photos: list[Photo]) -> None:
    scenes: list[tuple[int, np.ndarray]] = []
    for photo in photos:
        face = largest(models, photo.image)
        scenes.append((1, degrade.place(photo.image, face, FACE_PX)))
    people = [p for p in photos if p.name == p.source]
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            if a.person != b.person:
                scenes.append((2, two_people(a.image, b.image, models)))
    for name in NO_FACE:
        path = SHARED / f"{name}.png"
        image = cv2.imread(str(path if path.exists() else ROOT / "tests/data" / f"{name}.jpg"))
        if image is not None:
            scenes.append((0, cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)))
    ones = sum(1 for n, _ in scenes if n == 1)
    twos = sum(1 for n, _ in scenes if n == 2)
    zeros = sum(1 for n, _ in scenes if n == 0)
    print(f"\n### Face count ({ones} one-face, {twos} two-face, {zeros} no-face scenes)\n")
    print("| picture | right count | one face | two faces | no face |")
    print("|---|---|---|---|---|")
    counts = [
        ("clean", lambda f: f),
        ("low light, auto gain (1/20)", partial(degrade.night, gain=0.05)),
        ("low light, no gain (1/30)", partial(degrade.dark, gain=1 / 30)),
        ("defocus sigma 2.5 px", partial(degrade.blur, sigma=2.5)),
        ("noise sigma 10", partial(degrade.noise, sigma=10)),
        ("JPEG quality 20", partial(degrade.jpeg, quality=20)),
        ("VP8 80 kbit/s, still", vp8_still),
    ]
    for label, make in counts:
        right = {0: 0, 1: 0, 2: 0}
        for expected, frame in scenes:
            right[expected] += len(models.face_detector.detect_full(make(frame))) == expected
        total = sum(right.values())
        print(
            f"| {label} | {total}/{len(scenes)} | {right[1]}/{ones} | {right[2]}/{twos} "
            f"| {right[0]}/{zeros} |"
        )


# --- 2. identity per check ----------------------------------------------------------------


@dataclass
class Tally:
    pairs: int = 0
    unusable: int = 0
    verdicts: dict[str, dict[IdentityVerdict, int]] | None = None


def identity_table(models: Models, photos: list[Photo]) -> None:
    references = {
        p.name: models.verifier.describe(p.image, largest(models, p.image))
        for p in photos
        if p.name == p.source  # enrol from whole photos only
    }
    person_of = {p.name: p.person for p in photos}
    bands = {name: IDENTITY_BANDS[name] for name in ("strict", "normal", "lenient")}
    print("\n### Identity, one check at a time\n")
    print(
        f"References: {', '.join(references)} (enrolled from the whole photo); probes: every "
        "photo in a 320x240 frame, degraded; same-person pairs never pair a photo with "
        "itself or its own crop. FRR: same-person pairs judged a mismatch; FAR: "
        "other-person pairs judged a match; both over the pairs the gates let through. "
        "Before: one threshold at 0.6, every face judged.\n"
    )
    header = "| picture | same / other pairs | unusable | uncertain (normal) |"
    header += " FRR strict / normal / lenient | FAR | same max / other min |"
    header += " FRR before | FAR before | same max / other min before |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, (face_px, make) in DEGRADATIONS.items():
        same: list[tuple[float, bool]] = []  # (distance, usable)
        other: list[tuple[float, bool]] = []
        for probe in photos:
            face = largest(models, probe.image)
            frame = make(degrade.place(probe.image, face, face_px))
            seen = largest(models, frame)
            if seen is None:
                continue  # not a face to judge: the face-count table covers it
            usable = refusal(measure(frame, seen), LIVE_GATES) is None
            descriptor = models.verifier.describe(frame, seen)
            for ref_name, reference in references.items():
                if ref_name == PHOTOS[probe.name][1]:
                    continue
                pair = (distance(descriptor, reference), usable)
                (same if person_of[ref_name] == probe.person else other).append(pair)
        judged_same = [d for d, ok in same if ok]
        judged_other = [d for d, ok in other if ok]
        unusable = sum(not ok for _, ok in same + other)
        normal = bands["normal"]
        uncertain = sum(normal.verdict(d) is IdentityVerdict.UNCERTAIN for d in judged_same)
        uncertain += sum(normal.verdict(d) is IdentityVerdict.UNCERTAIN for d in judged_other)
        frr = " / ".join(
            _rate(sum(b.verdict(d) is IdentityVerdict.MISMATCH for d in judged_same), judged_same)
            for b in bands.values()
        )
        far = _rate(
            sum(normal.verdict(d) is IdentityVerdict.MATCH for d in judged_other), judged_other
        )
        frr_before = _rate(sum(d > 0.6 for d, _ in same), same)
        far_before = _rate(sum(d <= 0.6 for d, _ in other), other)
        every_same, every_other = [d for d, _ in same], [d for d, _ in other]
        print(
            f"| {label} | {len(same)} / {len(other)} | {_rate(unusable, same + other)} "
            f"| {_rate(uncertain, judged_same + judged_other)} | {frr} | {far} "
            f"| {_spread(judged_same, judged_other)} | {frr_before} | {far_before} "
            f"| {_spread(every_same, every_other)} |"
        )
    print(
        "\nThe match line is 0.5 in every preset, so FAR is one figure; the mismatch line "
        "is 0.6 / 0.65 / 0.7 (strict / normal / lenient)."
    )


def _spread(same: list[float], other: list[float]) -> str:
    """The closest the two groups come: the largest same-person and smallest other distance."""
    top = f"{max(same):.2f}" if same else "-"
    low = f"{min(other):.2f}" if other else "-"
    return f"{top} / {low}"


def _rate(count: int, of: list[object] | list[tuple[float, bool]] | list[float]) -> str:
    return f"{100 * count / len(of):.1f} %" if of else "-"


# --- 3. stream ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    started_at: float
    """The first mismatching check of the run that started it."""
    raised_at: float
    """The analysis whose check started it: when the proctor hears of it."""
    ended_at: float


def run_clip(
    frames: list[np.ndarray], reference: np.ndarray, config: tuple[AnalyzerSettings, RuleBook]
) -> list[Incident]:
    """face_mismatch incidents over the frames (5 fps) analysed 2.5 times a second."""
    settings, rules = config
    analyzer, engine = FrameAnalyzer(reference, settings), RuleEngine(rules)
    fps = 2.5
    raised: dict[str, float] = {}
    ended: dict[str, tuple[float, float]] = {}
    sampled = frames[::2]
    for index, frame in enumerate(sampled):
        ts = index / fps
        for event in engine.feed_all(analyzer.analyze(frame, ts).observations):
            _note(event, ts, raised, ended)
    for event in engine.close(len(sampled) / fps):
        _note(event, len(sampled) / fps, raised, ended)
    return [Incident(started, raised[incident], end) for incident, (started, end) in ended.items()]


def _note(event, ts, raised, ended) -> None:  # type: ignore[no-untyped-def]
    if event.kind is not AlertKind.FACE_MISMATCH:
        return
    raised.setdefault(event.incident_id, ts)
    if event.ended_at is not None:
        ended[event.incident_id] = (event.started_at, event.ended_at)


def stream_table(models: Models, minutes: float, swaps: int) -> None:
    # Enrolled from obama3; the clips show the other photos of him (frontal, turned both ways).
    enrolled = cv2.imread(str(ROOT / "tests/data/obama3.jpg"))
    reference = models.verifier.describe(enrolled, largest(models, enrolled))
    poses = ["frontal", "right", "left"]
    clip_seconds = 120.0
    clips = max(1, round(minutes * 60 / clip_seconds))
    false_seconds = dict.fromkeys(CONFIGS, 0.0)
    false_incidents = dict.fromkeys(CONFIGS, 0)
    start = time.perf_counter()
    for seed in range(clips):
        shots = motion.script("obama", clip_seconds, 5, seed=100 + seed, poses=poses)
        frames = motion.natural_frames(shots, seed=100 + seed)
        for name, config in CONFIGS.items():
            incidents = run_clip(frames, reference, config)
            false_incidents[name] += len(incidents)
            false_seconds[name] += sum(i.ended_at - i.started_at for i in incidents)
    hours = clips * clip_seconds / 3600
    print(
        f"\n### Stream: one person moving naturally, {clips * clip_seconds / 60:.0f} min "
        f"({clips} seeded clips; {time.perf_counter() - start:.0f} s to run)\n"
    )
    print("| rules | false face_mismatch incidents per hour | seconds of it per hour |")
    print("|---|---|---|")
    for name in CONFIGS:
        print(
            f"| {name} | {false_incidents[name] / hours:.1f} | {false_seconds[name] / hours:.0f} |"
        )

    catches: dict[str, list[tuple[float, float] | None]] = {name: [] for name in CONFIGS}
    swap_at = 20.0
    for person in ("biden", "collins", "hopper"):
        for seed in range(swaps):
            before = motion.script("obama", swap_at, 5, seed=200 + seed, poses=poses)
            after = motion.script(person, 20.0, 5, seed=300 + seed)
            frames = motion.natural_frames(before + after, seed=200 + seed)
            for name, config in CONFIGS.items():
                after_swap = [
                    i for i in run_clip(frames, reference, config) if i.raised_at >= swap_at
                ]
                first = after_swap[0] if after_swap else None
                catches[name].append(
                    None
                    if first is None
                    else (first.started_at - swap_at, first.raised_at - swap_at)
                )
    runs = 3 * swaps
    print(
        f"\nA swap: {runs} clips of 20 s of the candidate then 20 s of Joe Biden, Eileen Collins "
        "or Grace Hopper moving the same way; seconds from the swap to the first mismatching "
        "check of the incident, and to the alert (medians, worst in brackets).\n"
    )
    print("| rules | caught | first mismatching check | alert raised |")
    print("|---|---|---|---|")
    for name in CONFIGS:
        caught = [c for c in catches[name] if c is not None]
        first = [c[0] for c in caught]
        alert = [c[1] for c in caught]
        print(
            f"| {name} | {len(caught)}/{runs} | {_median_worst(first)} | {_median_worst(alert)} |"
        )


def _median_worst(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} s ({max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="of natural movement")
    parser.add_argument("--swaps", type=int, default=3, help="seeds per other person")
    args = parser.parse_args()
    models = shared_models()
    photos = load_photos()
    print(f"photos: {', '.join(p.name for p in photos)}")
    face_count_table(models, photos)
    identity_table(models, photos)
    stream_table(models, args.minutes, args.swaps)


if __name__ == "__main__":
    main()
