"""Per-session analysis: one `FrameAnalyzer` (video) and one `AudioAnalyzer` per candidate.

The analyzers keep only per-session state (calibration, histories, the last identity
check); the models come from `shared_models()`, one set per worker thread. Call
`analyze` from a worker thread, never from the event loop, and never concurrently for one
session (frames of one session are analysed in order; a second concurrent call raises).
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.kinds import AlertKind
from detectors.base import FrameAnalysis, IdentityBand, IdentityVerdict, Observation
from detectors.camera import CameraCheck, CameraSettings
from detectors.face_detector import Detection
from detectors.face_geometry import gaze, head_pose, mouth_open_ratio
from detectors.face_quality import LIVE_GATES, QualityGates, measure, refusal
from detectors.identity import NORMAL_BAND, distance
from detectors.models import Models, shared_models
from detectors.voice import VoiceActivityDetector, pcm_from_frame


@dataclass(frozen=True, slots=True)
class AnalyzerSettings:
    """Thresholds and intervals for `FrameAnalyzer`."""

    identity_interval: float = 30.0
    """Most seconds between two identity checks (each costs ~11 ms). Between them a check
    runs as soon as the main face looks different from the one last checked
    (`appearance_threshold`), subject to `identity_min_gap`."""
    appearance_threshold: float = 0.8
    """Correlation (-1..1) of the main face's small grey crop with the one at the last
    identity check below which the face counts as changed. Measured on real photos: the same
    face panned, darkened or downscaled stays at or above 0.93, a mirrored pose 0.63, another
    person 0.33 or less."""
    identity_recheck: float = 0.9
    """Seconds until the next check after one that did not match (uncertain or mismatch),
    so that rules needing several mismatching checks confirm (or clear) a swap within a
    few seconds. Just under a second: an unchanged picture is analysed about once a second
    (`still_analysis_fps`) with its frame's time, which may come a few frames under 1 s
    after the last check; at 1.0 such an analysis skipped the check and the next came 2 s
    after. At 3 samples a second the checks still come a second apart."""
    identity_min_gap: float = 1.0
    """Least seconds between two identity checks, so that two similar faces swapping the
    main place between frames cannot make every frame pay for one; a trigger inside the
    gap waits for it."""
    identity_band: IdentityBand = NORMAL_BAND
    """Distances that are a match, uncertain, a mismatch (the exam's preset chooses)."""
    quality_gates: QualityGates = LIVE_GATES
    """What the candidate's face must offer before it is compared at all."""
    identity_max_faces: int = 2
    """With several faces in view, compare up to this many (largest first), stopping at
    the first that matches (each costs ~11 ms); a mismatch means none of them is the
    candidate."""
    calibration_seconds: float = 3.0
    """The neutral pose is the median over the first seconds with exactly one face."""
    calibration_min_frames: int = 5
    yaw_threshold: float = 30.0
    """Degrees of head turn, relative to the neutral pose, that count as looking away."""
    pitch_threshold: float = 20.0
    """Degrees of nod (up or down), relative to the neutral pose."""
    gaze_threshold: float = 0.6
    """Horizontal iris offset (-1..1) relative to neutral that counts as looking away.
    Vertical gaze is reported but not used: lids make it too noisy."""
    run_iris: bool = True
    """Iris landmarks cost ~2 ms per frame; off means no gaze."""
    talk_window: float = 2.5
    """Seconds of mouth-opening history used for TALKING: three analyses a second apart,
    with their jitter, fit in it (a still picture is analysed once a second)."""
    talk_move_threshold: float = 0.06
    """Change of the mouth-opening ratio (gap over width) between two analysed frames that
    counts as the mouth moving; a still mouth varies by ~0.005 between frames."""
    talk_min_moves: int = 2
    """Moves within the window that make TALKING: speech opens and closes the mouth again
    and again, while a face swapped for another one between two frames (one person's
    open mouth for another's closed one) is a single step. Two moves need three frames,
    so this works at 2 analyses a second, and at the 1 a second of back-off or of a still
    picture."""
    camera: CameraSettings = field(default_factory=CameraSettings)


@dataclass(slots=True)
class _Calibration:
    """Neutral head pose and gaze: median of the first seconds with one face."""

    seconds: float
    min_frames: int
    samples: list[tuple[float, float, float, float]] = field(default_factory=list)
    first_ts: float | None = None
    neutral: tuple[float, float, float, float] | None = None

    @property
    def done(self) -> bool:
        return self.neutral is not None and len(self.samples) == 0

    def add(self, ts: float, yaw: float, pitch: float, gx: float, gy: float) -> None:
        if self.done:
            return
        if self.first_ts is None:
            self.first_ts = ts
        self.samples.append((yaw, pitch, gx, gy))
        columns = list(zip(*self.samples, strict=True))
        median = tuple(statistics.median(c) for c in columns)
        self.neutral = (median[0], median[1], median[2], median[3])
        if ts - self.first_ts >= self.seconds and len(self.samples) >= self.min_frames:
            self.samples.clear()  # frozen from now on


class FrameAnalyzer:
    """Turns one candidate's video frames into observations. One instance per session."""

    def __init__(
        self,
        reference: np.ndarray | None,
        settings: AnalyzerSettings | None = None,
        models: Callable[[], Models] = shared_models,
        describe: Callable[[np.ndarray, Detection], np.ndarray] | None = None,
    ) -> None:
        """`reference`: the enrolled descriptor (`reference_descriptor`), or None to skip
        identity checks. `models`: returns the calling thread's models. `describe`: computes
        face descriptors (default: this thread's dlib verifier; the server passes a
        `DescriptorPool`, which keeps dlib off the GIL)."""
        self.reference = None if reference is None else np.asarray(reference, np.float64)
        self.settings = settings or AnalyzerSettings()
        self._models = models
        self._describe = describe
        self._camera = CameraCheck(self.settings.camera)
        self._calibration = _Calibration(
            self.settings.calibration_seconds, self.settings.calibration_min_frames
        )
        self._mouth: deque[tuple[float, float]] = deque()
        self._prev_count: int | None = None
        self._last_identity_ts: float | None = None
        self._last_identity_match = True
        self._checked_appearance: np.ndarray | None = None
        self._identity_pending = True
        self._busy = threading.Lock()

    @property
    def calibrated(self) -> bool:
        """True once the neutral pose is fixed."""
        return self._calibration.done

    def analyze(self, image: np.ndarray, ts: float) -> FrameAnalysis:
        """Everything this frame shows: `image` is BGR or I420 (see `to_bgr`). `ts`: seconds
        on the session clock."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("FrameAnalyzer.analyze called concurrently for one session")
        try:
            return self._analyze(to_bgr(image), ts)
        finally:
            self._busy.release()

    def _analyze(self, bgr: np.ndarray, ts: float) -> FrameAnalysis:
        s = self.settings
        timings: dict[str, float] = {}
        start = time.perf_counter()
        models = self._models()
        h, w = bgr.shape[:2]
        obs: list[Observation] = []

        with _timed(timings, "camera"):
            cam = self._camera.update(bgr, ts)
        obs.append(
            Observation(
                AlertKind.CAMERA_BLOCKED,
                cam.blocked,
                ts,
                message=cam.describe()
                or f"brightness {cam.brightness:.0f}, contrast {cam.contrast:.0f}",
            )
        )

        with _timed(timings, "face_detection"):
            faces = models.face_detector.detect_full(bgr)
        count = len(faces)
        best = max((f.score for f in faces), default=0.0)
        obs.append(
            Observation(
                AlertKind.NO_FACE,
                count == 0,
                ts,
                confidence=1.0 if count == 0 else best,
                message="no face in view" if count == 0 else f"{count} face(s) in view",
            )
        )
        obs.append(
            Observation(
                AlertKind.MULTIPLE_FACES,
                count > 1,
                ts,
                confidence=faces[1].score if count > 1 else 1.0,
                message=f"{count} faces in view",
            )
        )
        if count != 1 or count != self._prev_count:
            self._mouth.clear()  # never mix mouth movements of different faces

        yaw = pitch = None
        camera_yaw: float | None = None  # the head's turn from the camera, not from neutral
        gaze_xy: tuple[float, float] | None = None
        if faces:
            main = faces[0]  # the largest face is taken to be the candidate
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            with _timed(timings, "face_mesh"):
                mesh = models.face_mesh.landmarks(rgb, main)
            if mesh is not None:
                with _timed(timings, "head_pose"):
                    pose = head_pose(mesh, w, h)
                    mouth = mouth_open_ratio(mesh)
                if s.run_iris:
                    with _timed(timings, "iris"):
                        gaze_xy = gaze(models.iris.eyes(rgb, mesh))
                if pose is not None:
                    camera_yaw = pose.yaw
                    gx, gy = gaze_xy or (0.0, 0.0)
                    if count == 1:
                        self._calibration.add(ts, pose.yaw, pose.pitch, gx, gy)
                    obs_look, yaw, pitch, gaze_xy = self._looking_away(
                        ts, pose.yaw, pose.pitch, gaze_xy
                    )
                    obs.append(obs_look)
                if count == 1:
                    obs.append(self._talking(ts, mouth))

        identity: float | None = None
        verdict: IdentityVerdict | None = None
        unusable: str | None = None
        compared = faces[: max(1, s.identity_max_faces)]
        if self.reference is not None and compared:
            with _timed(timings, "appearance"):
                looks = [face_appearance(bgr, face) for face in compared]
            if self._identity_due(ts, looks):
                with _timed(timings, "face_quality"):
                    quality = measure(bgr, compared[0], camera_yaw, pitch)
                    unusable = refusal(quality, s.quality_gates)
                if unusable is not None:
                    # Not evidence either way: try again on the next frame (cheap until a
                    # usable face is there, then one descriptor).
                    verdict = IdentityVerdict.UNUSABLE
                    self._identity_pending = True
                else:
                    with _timed(timings, "identity"):
                        identity, best = self._closest(bgr, compared, models)
                    verdict = s.identity_band.verdict(identity)
                    self._last_identity_ts = ts
                    # From now on the candidate is "the face that looks like this one"
                    # (a face cut by the frame's edge has no look: check again soon).
                    self._checked_appearance = looks[best]
                    self._identity_pending = looks[best] is None
                    self._last_identity_match = verdict is IdentityVerdict.MATCH
                    if verdict is not IdentityVerdict.UNCERTAIN:
                        obs.append(self._identity_observation(ts, identity, verdict))

        self._prev_count = count
        timings["total"] = (time.perf_counter() - start) * 1000.0
        return FrameAnalysis(
            ts=ts,
            observations=tuple(obs),
            faces=tuple(f.to_face_box() for f in faces),
            yaw=yaw,
            pitch=pitch,
            gaze=gaze_xy,
            identity_distance=identity,
            identity_verdict=verdict,
            unusable_reason=unusable,
            timings_ms=timings,
        )

    def _closest(
        self, bgr: np.ndarray, compared: list[Detection], models: Models
    ) -> tuple[float, int]:
        """The smallest distance to the reference among `compared` faces, and whose."""
        describe = self._describe or models.verifier.describe
        assert self.reference is not None
        distances: list[float] = []
        for face in compared:
            distances.append(distance(describe(bgr, face), self.reference))
            if distances[-1] <= self.settings.identity_band.match_at_most:
                break  # the candidate is in view: the other faces cost nothing
        best = int(np.argmin(distances))
        return distances[best], best

    def _identity_observation(
        self, ts: float, identity: float, verdict: IdentityVerdict
    ) -> Observation:
        """FACE_MISMATCH from a match or a mismatch (an uncertain check reports nothing)."""
        band = self.settings.identity_band
        mismatch = verdict is IdentityVerdict.MISMATCH
        edge = band.mismatch_above if mismatch else band.match_at_most
        return Observation(
            AlertKind.FACE_MISMATCH,
            mismatch,
            ts,
            # 0.5 at the band's edge, 1.0 at 0.2 beyond it.
            confidence=min(1.0, 0.5 + abs(identity - edge) * 2.5),
            message=f"descriptor distance {identity:.2f} "
            + (
                f"(above {band.mismatch_above:.2f}: not the enrolled candidate)"
                if mismatch
                else f"(at most {band.match_at_most:.2f}: the enrolled candidate)"
            ),
        )

    def _looking_away(
        self, ts: float, yaw: float, pitch: float, gaze_xy: tuple[float, float] | None
    ) -> tuple[Observation, float, float, tuple[float, float] | None]:
        """Observation plus yaw, pitch and gaze relative to the neutral pose."""
        s = self.settings
        n_yaw, n_pitch, n_gx, n_gy = self._calibration.neutral or (0.0, 0.0, 0.0, 0.0)
        rel_yaw, rel_pitch = yaw - n_yaw, pitch - n_pitch
        rel_gaze = None if gaze_xy is None else (gaze_xy[0] - n_gx, gaze_xy[1] - n_gy)
        reasons = []
        if abs(rel_yaw) > s.yaw_threshold:
            reasons.append(f"head turned {rel_yaw:+.0f} deg")
        if abs(rel_pitch) > s.pitch_threshold:
            reasons.append(f"head tilted {rel_pitch:+.0f} deg")
        if rel_gaze is not None and abs(rel_gaze[0]) > s.gaze_threshold:
            reasons.append(f"eyes off-centre {rel_gaze[0]:+.2f}")
        observation = Observation(
            AlertKind.LOOKING_AWAY,
            bool(reasons),
            ts,
            # Until the neutral pose is fixed the angles are only provisional.
            confidence=1.0 if self._calibration.done else 0.5,
            message=", ".join(reasons)
            or f"yaw {rel_yaw:+.0f}, pitch {rel_pitch:+.0f} deg from neutral",
        )
        return observation, rel_yaw, rel_pitch, rel_gaze

    def _talking(self, ts: float, mouth: float) -> Observation:
        """TALKING from how often the mouth opening moved over the last seconds."""
        s = self.settings
        self._mouth.append((ts, mouth))
        while self._mouth and ts - self._mouth[0][0] > s.talk_window:
            self._mouth.popleft()
        openings = [m for _, m in self._mouth]
        moves = sum(abs(b - a) > s.talk_move_threshold for a, b in itertools.pairwise(openings))
        return Observation(
            AlertKind.TALKING,
            moves >= s.talk_min_moves,
            ts,
            confidence=min(1.0, 0.5 * moves / s.talk_min_moves + 0.25),
            message=f"mouth moved {moves} time(s) in {s.talk_window:.0f} s",
        )

    def _identity_due(self, ts: float, looks: list[np.ndarray | None]) -> bool:
        s = self.settings
        checked = self._checked_appearance
        # Someone sat down, the candidate left the main place, or stayed next to someone
        # else: no face in view looks like the one last checked. The same face moving or
        # lit differently still does.
        if checked is not None and not any(
            look is not None and float(look @ checked) >= s.appearance_threshold for look in looks
        ):
            self._identity_pending = True
        last = self._last_identity_ts
        if last is None or ts < last:
            return True
        interval = s.identity_interval if self._last_identity_match else s.identity_recheck
        if ts - last >= interval:
            return True
        return self._identity_pending and ts - last >= s.identity_min_gap


class AudioAnalyzer(VoiceActivityDetector):
    """One candidate's microphone: SPEECH observations every ~0.3 s. One per session.

    `feed(pcm, sample_rate, ts, channels)` takes raw PCM; `feed_frame(frame, ts)` takes a
    PyAV `AudioFrame` straight from an aiortc track (any rate, mono or stereo).
    """

    def feed_frame(self, frame: object, ts: float) -> list[Observation]:
        samples, rate = pcm_from_frame(frame)
        return self.feed(samples, rate, ts)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """A frame as BGR (h, w, 3): BGR is returned as is; I420, a decoded video frame's planes
    stacked as (h * 3 / 2, w) (`av.VideoFrame.to_ndarray(format="yuv420p")`), is converted.
    Live frames travel as I420: half the bytes of BGR, and converted where they are used."""
    if image.ndim == 3:
        return image
    if image.ndim == 2 and image.shape[0] % 3 == 0:
        return cv2.cvtColor(image, cv2.COLOR_YUV2BGR_I420)
    raise ValueError(f"expected a BGR or I420 frame, got shape {image.shape}")


APPEARANCE_SIZE = 24
"""Side of the grey crop compared by `face_appearance` (~0.07 ms per frame)."""


def face_appearance(bgr: np.ndarray, face: Detection) -> np.ndarray | None:
    """The face box as a small grey crop, zero-mean and unit-norm, so that the dot product
    of two is their correlation: a cheap test of "is this still the face last checked"
    that ignores brightness and scale. None when the box lies outside the frame."""
    h, w = bgr.shape[:2]
    left, top, right, bottom = face.pixel_box(w, h)
    left, top, right, bottom = max(0, left), max(0, top), min(w, right), min(h, bottom)
    if right - left < 2 or bottom - top < 2:
        return None
    grey = cv2.cvtColor(bgr[top:bottom, left:right], cv2.COLOR_BGR2GRAY)
    size = (APPEARANCE_SIZE, APPEARANCE_SIZE)
    crop = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    crop -= crop.mean()
    norm = float(np.linalg.norm(crop))
    return crop / norm if norm > 0 else crop


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0
