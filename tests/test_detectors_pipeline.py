"""FrameAnalyzer over short sequences of real photographs."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.kinds import AlertKind
from detectors.base import FrameAnalysis, IdentityVerdict
from detectors.identity import reference_descriptor
from detectors.models import Models, shared_models
from detectors.pipeline import AnalyzerSettings, FrameAnalyzer, face_appearance, to_bgr
from tests.clips import still

DATA = Path(__file__).parent / "data"


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(DATA / f"{name}.jpg"))
    assert image is not None, name
    return image


def webcam(name: str, mirror: bool = False) -> np.ndarray:
    """A 640x480 frame with the photo centred on a grey wall, as a webcam would show."""
    image = photo(name)
    if mirror:
        image = np.ascontiguousarray(image[:, ::-1])
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 128, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def composite() -> np.ndarray:
    """Two people side by side in one 640x480 frame."""
    halves = []
    for name in ("obama", "biden"):
        image = photo(name)
        scale = 440 / image.shape[0]
        halves.append(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    frame = np.full((480, 640, 3), 128, np.uint8)
    x = 10
    for half in halves:
        frame[20 : 20 + half.shape[0], x : x + half.shape[1]] = half
        x += half.shape[1] + 20
    return frame


def live(frame: np.ndarray, i: int) -> np.ndarray:
    """Sensor noise so that the camera check does not see a frozen picture."""
    noise = np.random.default_rng(i).integers(0, 3, frame.shape, dtype=np.uint8)
    return cv2.add(frame, noise)  # saturating: white stays white


def active(result: FrameAnalysis) -> set[AlertKind]:
    return {o.kind for o in result.observations if o.active}


def kinds(result: FrameAnalysis) -> set[AlertKind]:
    return {o.kind for o in result.observations}


@pytest.fixture(scope="module")
def models() -> Models:
    return shared_models()


@pytest.fixture(scope="module")
def obama_reference(models: Models) -> np.ndarray:
    return reference_descriptor(photo("obama"))


def test_candidate_alone_raises_nothing(models: Models, obama_reference: np.ndarray) -> None:
    analyzer = FrameAnalyzer(obama_reference)
    frame = webcam("obama2")
    results = [analyzer.analyze(live(frame, i), i * 0.2) for i in range(20)]  # 4 s
    for r in results:
        assert active(r) == set(), [(o.kind, o.message) for o in r.observations if o.active]
        assert len(r.faces) == 1
        assert {AlertKind.NO_FACE, AlertKind.MULTIPLE_FACES, AlertKind.CAMERA_BLOCKED} <= kinds(r)
        assert AlertKind.LOOKING_AWAY in kinds(r)
    assert analyzer.calibrated
    last = results[-1]
    assert last.yaw is not None and abs(last.yaw) < 3  # relative to the neutral pose
    assert last.gaze is not None
    assert AlertKind.TALKING in kinds(last)  # a still mouth: measured, not talking
    assert {"camera", "face_detection", "face_mesh", "iris", "head_pose", "total"} <= set(
        last.timings_ms
    )
    # Identity ran on the first frame only (then every 5 s).
    checked = [r for r in results if r.identity_distance is not None]
    assert [r.ts for r in checked] == [0.0]
    assert checked[0].identity_distance is not None and checked[0].identity_distance < 0.6
    assert "identity" in checked[0].timings_ms


def test_no_face_on_the_cat(models: Models) -> None:
    analyzer = FrameAnalyzer(None)
    for i in range(3):
        r = analyzer.analyze(live(webcam("chelsea"), i), i * 0.2)
        assert active(r) == {AlertKind.NO_FACE}
        assert r.faces == () and r.yaw is None
        assert AlertKind.LOOKING_AWAY not in kinds(r)


def test_multiple_faces_on_the_composite(models: Models, obama_reference: np.ndarray) -> None:
    analyzer = FrameAnalyzer(obama_reference)
    r = analyzer.analyze(live(composite(), 0), 0.0)
    assert AlertKind.MULTIPLE_FACES in active(r)
    assert len(r.faces) == 2
    multiple = next(o for o in r.observations if o.kind is AlertKind.MULTIPLE_FACES)
    assert "2 faces" in multiple.message
    # The candidate is one of the two: not a mismatch.
    assert r.identity_distance is not None and r.identity_distance < 0.6
    assert AlertKind.FACE_MISMATCH not in active(r)


def test_identity_stops_at_the_first_face_that_matches(models: Models) -> None:
    frame = live(composite(), 0)
    faces = models.face_detector.detect_full(frame)
    assert len(faces) == 2
    described: list[object] = []

    def describe(bgr: np.ndarray, face: object) -> np.ndarray:
        described.append(face)
        return models.verifier.describe(bgr, face)  # type: ignore[arg-type]

    # The largest face is the candidate: the second one is never described.
    largest = models.verifier.describe(frame, faces[0])
    r = FrameAnalyzer(largest, describe=describe).analyze(frame, 0.0)
    assert len(described) == 1 and AlertKind.FACE_MISMATCH not in active(r)
    # Nobody in view is the candidate: both are described before the mismatch.
    described.clear()
    stranger = reference_descriptor(photo("astronaut"))
    r = FrameAnalyzer(stranger, describe=describe).analyze(frame, 0.0)
    assert len(described) == 2 and AlertKind.FACE_MISMATCH in active(r)


def test_face_mismatch_when_someone_else_sits_down(
    models: Models, obama_reference: np.ndarray
) -> None:
    analyzer = FrameAnalyzer(obama_reference)
    sequence = (
        [webcam("obama2")] * 3 + [webcam("chelsea")] * 2 + [webcam("biden")] * 3
    )  # candidate, empty seat (the cat), someone else
    results = [analyzer.analyze(live(f, i), i * 0.2) for i, f in enumerate(sequence)]
    # Identity runs on the first frame and when a face that looks different appears.
    ran = [i for i, r in enumerate(results) if r.identity_distance is not None]
    assert ran == [0, 5]
    assert AlertKind.FACE_MISMATCH not in active(results[0])
    mismatch = next(o for o in results[5].observations if o.kind is AlertKind.FACE_MISMATCH)
    assert mismatch.active and results[5].identity_distance is not None
    assert results[5].identity_distance > 0.6
    assert AlertKind.NO_FACE in active(results[3])


def test_the_same_candidate_coming_back_costs_no_check(
    models: Models, obama_reference: np.ndarray
) -> None:
    analyzer = FrameAnalyzer(obama_reference)
    sequence = [webcam("obama2")] * 3 + [webcam("chelsea")] * 2 + [webcam("obama2")] * 3
    results = [analyzer.analyze(live(f, i), i * 0.5) for i, f in enumerate(sequence)]
    assert [i for i, r in enumerate(results) if r.identity_distance is not None] == [0]
    assert AlertKind.NO_FACE in active(results[3])


def test_identity_rechecked_after_the_interval(models: Models, obama_reference: np.ndarray) -> None:
    analyzer = FrameAnalyzer(obama_reference, AnalyzerSettings(identity_interval=1.0))
    frame = webcam("obama2")
    ran = [analyzer.analyze(live(frame, i), i * 0.25).identity_distance for i in range(9)]
    assert [i for i, d in enumerate(ran) if d is not None] == [0, 4, 8]


def test_swap_in_place_is_checked_at_once_and_rechecked_until_it_matches(
    models: Models, obama_reference: np.ndarray
) -> None:
    # The clip's candidate, panned a few pixels as a webcam wobbles, for 10 s; then another
    # person in the same place for 6 s: no count change, no jump, only the face differs.
    def frame(content: str, i: int) -> np.ndarray:
        return live(np.roll(still(content), (i % 5) - 2, axis=1), i)

    analyzer = FrameAnalyzer(obama_reference)  # defaults: a 30 s floor, 0.9 s recheck
    sequence = ["candidate"] * 20 + ["other_person"] * 12 + ["candidate"] * 10
    results = [analyzer.analyze(frame(c, i), i * 0.5) for i, c in enumerate(sequence)]
    ran = {i: r.identity_distance for i, r in enumerate(results) if r.identity_distance}
    # Once at the start; the same face wobbling triggers nothing for 10 s. The swap is
    # checked on its first frame, rechecked every second while it mismatches, and the
    # return of the candidate is checked on its first frame too.
    assert list(ran) == [0, 20, 22, 24, 26, 28, 30, 32]
    assert ran[0] < 0.5 and ran[32] < 0.5
    assert all(ran[i] > 0.65 for i in range(20, 32, 2))
    verdicts = [r.identity_verdict for r in results]
    assert verdicts[20] is verdicts[30] is IdentityVerdict.MISMATCH
    assert verdicts[0] is verdicts[32] is IdentityVerdict.MATCH


def test_appearance_is_the_same_face_despite_light_and_scale(models: Models) -> None:
    def appearance(frame: np.ndarray) -> np.ndarray:
        faces = models.face_detector.detect_full(frame)
        crop = face_appearance(frame, faces[0])
        assert crop is not None
        return crop

    obama = appearance(webcam("obama"))
    darker = appearance(cv2.convertScaleAbs(webcam("obama"), alpha=0.6, beta=10))
    blurred = appearance(cv2.resize(cv2.resize(webcam("obama"), (320, 240)), (640, 480)))
    threshold = AnalyzerSettings().appearance_threshold
    assert float(obama @ darker) > threshold and float(obama @ blurred) > threshold
    for other in ("biden", "obama2", "grace_hopper"):  # another photo is another look
        assert float(obama @ appearance(webcam(other))) < threshold, other


def test_flickering_face_count_does_not_check_every_frame(
    models: Models, obama_reference: np.ndarray
) -> None:
    # One face, then two whose largest differs, ... every 0.2 s: at most one check a second.
    analyzer = FrameAnalyzer(obama_reference, AnalyzerSettings(identity_min_gap=1.0))
    frames = [webcam("obama2"), composite()]
    results = [analyzer.analyze(live(frames[i % 2], i), i * 0.2) for i in range(11)]
    assert [i for i, r in enumerate(results) if r.identity_distance is not None] == [0, 5, 10]


def test_looking_away_relative_to_the_calibrated_pose(models: Models) -> None:
    # Calibrate on a frontal portrait, then show the same person turned ~20 degrees.
    settings = AnalyzerSettings(yaw_threshold=10.0, calibration_seconds=1.0)
    analyzer = FrameAnalyzer(None, settings)
    frontal, turned = webcam("obama"), webcam("obama2")
    for i in range(8):
        r = analyzer.analyze(live(frontal, i), i * 0.2)
        assert AlertKind.LOOKING_AWAY not in active(r)
    assert analyzer.calibrated
    r = analyzer.analyze(live(turned, 9), 1.8)
    assert AlertKind.LOOKING_AWAY in active(r)
    assert r.yaw is not None and abs(r.yaw) > 10
    look = next(o for o in r.observations if o.kind is AlertKind.LOOKING_AWAY)
    assert "head turned" in look.message


def test_talking_from_mouth_movement(models: Models) -> None:
    # The same person with the mouth in two different openings, alternating: the
    # mouth-opening ratio varies, which is what TALKING measures.
    analyzer = FrameAnalyzer(None, AnalyzerSettings(yaw_threshold=90, pitch_threshold=90))
    frames = [webcam("obama"), webcam("obama2")]
    results = [analyzer.analyze(live(frames[i % 2], i), i * 0.2) for i in range(10)]
    assert AlertKind.TALKING in active(results[-1])


def test_talking_at_two_analyses_a_second(models: Models) -> None:
    # The server's default rate: two moves fit in the 2 s window from the third frame on.
    analyzer = FrameAnalyzer(None, AnalyzerSettings(yaw_threshold=90, pitch_threshold=90))
    frames = [webcam("obama"), webcam("obama2")]
    results = [analyzer.analyze(live(frames[i % 2], i), i * 0.5) for i in range(6)]
    assert [AlertKind.TALKING in active(r) for r in results] == [False] * 2 + [True] * 4
    talking = next(o for o in results[-1].observations if o.kind is AlertKind.TALKING)
    assert "moved 5 time(s)" in talking.message  # six frames in the 2.5 s window


def test_talking_at_one_analysis_a_second_with_jitter(models: Models) -> None:
    # A still picture is analysed once a second, a little later now and then: three frames
    # 1.15 s apart still show two moves.
    analyzer = FrameAnalyzer(None, AnalyzerSettings(yaw_threshold=90, pitch_threshold=90))
    frames = [webcam("obama"), webcam("obama2")]
    results = [analyzer.analyze(live(frames[i % 2], i), i * 1.15) for i in range(4)]
    assert [AlertKind.TALKING in active(r) for r in results] == [False] * 2 + [True] * 2


def test_a_repeated_analysis_keeps_the_findings_but_not_the_identity_check(
    models: Models, obama_reference: np.ndarray
) -> None:
    analyzer = FrameAnalyzer(obama_reference)
    first = analyzer.analyze(live(composite(), 0), 5.0)
    assert first.identity_distance is not None and AlertKind.FACE_MISMATCH in kinds(first)
    again = first.repeat_at(5.4)
    assert again.repeated and again.ts == 5.4 and again.identity_distance is None
    assert again.faces == first.faces and active(again) == active(first) - {AlertKind.FACE_MISMATCH}
    assert kinds(again) == kinds(first) - {AlertKind.FACE_MISMATCH}
    assert all(o.repeated and o.ts == 5.4 for o in again.observations)
    assert not any(o.repeated for o in first.observations)


def test_a_face_swap_is_not_talking(models: Models) -> None:
    # One person's open mouth replaced by another's closed one (the benchmark's swap, one
    # face in view throughout) is one step of the mouth opening, not speech.
    analyzer = FrameAnalyzer(None, AnalyzerSettings(yaw_threshold=90, pitch_threshold=90))
    scene = [still("candidate")] * 4 + [still("other_person")] * 6
    results = [analyzer.analyze(live(frame, i), i / 3) for i, frame in enumerate(scene)]
    assert all(len(r.faces) == 1 for r in results)
    assert not any(AlertKind.TALKING in active(r) for r in results)


def test_black_frame_blocks_the_camera(models: Models) -> None:
    analyzer = FrameAnalyzer(None)
    r = analyzer.analyze(np.zeros((480, 640, 3), np.uint8), 0.0)
    assert {AlertKind.CAMERA_BLOCKED, AlertKind.NO_FACE} <= active(r)


def test_frozen_feed_blocks_the_camera(models: Models) -> None:
    analyzer = FrameAnalyzer(None)
    frame = webcam("obama2")
    results = [analyzer.analyze(frame, i * 0.5) for i in range(12)]  # 5.5 s, identical
    assert AlertKind.CAMERA_BLOCKED not in active(results[0])
    assert AlertKind.CAMERA_BLOCKED in active(results[-1])


def test_i420_frames_give_the_same_answer_as_bgr(models: Models) -> None:
    bgr = webcam("obama2")
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    assert i420.shape == (720, 640)
    a = FrameAnalyzer(None).analyze(bgr, 0.0)
    b = FrameAnalyzer(None).analyze(i420, 0.0)
    assert len(a.faces) == len(b.faces) == 1
    assert abs(a.faces[0].x - b.faces[0].x) < 0.01
    assert abs(a.faces[0].width - b.faces[0].width) < 0.01
    with pytest.raises(ValueError, match="BGR or I420"):
        to_bgr(np.zeros((481, 640), np.uint8))


def test_models_are_per_thread() -> None:
    seen: list[Models] = []
    thread = threading.Thread(target=lambda: seen.append(shared_models()))
    thread.start()
    thread.join()
    assert shared_models() is shared_models()
    assert seen[0] is not shared_models()


def test_concurrent_analyze_on_one_session_is_refused(models: Models) -> None:
    analyzer = FrameAnalyzer(None)
    analyzer._busy.acquire()  # as if another thread were inside analyze()
    try:
        with pytest.raises(RuntimeError, match="concurrently"):
            analyzer.analyze(webcam("obama"), 0.0)
    finally:
        analyzer._busy.release()
