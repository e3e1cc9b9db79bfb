"""Contracts shared by detectors, the media pipeline and the alert rules.

A detector looks at one frame (or one chunk of audio) and reports, for each alert kind it
covers, whether the condition holds *now*. It never decides whether that is an incident:
the per-session rule engine in `alerts/` does that over time, with hysteresis.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from core.kinds import AlertKind


@dataclass(frozen=True, slots=True)
class Observation:
    """Whether one alert condition holds at one instant."""

    kind: AlertKind
    active: bool
    """True while the condition holds (no face seen, two faces seen, ...)."""
    ts: float
    """Seconds on the session's clock (monotonic, same clock for every source)."""
    confidence: float = 1.0
    """How sure the detector is, 0..1."""
    message: str = ""
    """Short human-readable detail, e.g. "2 faces in view"."""
    repeated: bool = False
    """The detector did not look again: the picture had not changed since it last did, so
    its finding still holds at `ts`. It keeps time for the rules but is not new evidence."""


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detected face in normalised image coordinates (0..1, origin top-left)."""

    x: float
    y: float
    width: float
    height: float
    score: float


class IdentityVerdict(StrEnum):
    """What an identity check concluded about the face in view."""

    MATCH = "match"
    """Clearly the enrolled candidate."""
    UNCERTAIN = "uncertain"
    """Too close to call: checked again soon, never evidence by itself."""
    MISMATCH = "mismatch"
    """Clearly someone else: one piece of evidence for `face_mismatch`."""
    UNUSABLE = "unusable"
    """A check was due but the face was too small, turned, blurred or badly lit to judge
    (`FrameAnalysis.unusable_reason` says which): not evidence either way."""


@dataclass(frozen=True, slots=True)
class IdentityBand:
    """Descriptor distances around the threshold: at most `match_at_most` is a match, above
    `mismatch_above` a mismatch, in between uncertain."""

    match_at_most: float
    mismatch_above: float

    def __post_init__(self) -> None:
        if not 0 < self.match_at_most <= self.mismatch_above:
            raise ValueError(f"identity band {self} must satisfy 0 < match <= mismatch")

    def verdict(self, distance: float) -> IdentityVerdict:
        if distance <= self.match_at_most:
            return IdentityVerdict.MATCH
        if distance > self.mismatch_above:
            return IdentityVerdict.MISMATCH
        return IdentityVerdict.UNCERTAIN


@dataclass(frozen=True, slots=True)
class FrameAnalysis:
    """Everything one frame told us: observations for the rules, geometry for overlays."""

    ts: float
    observations: tuple[Observation, ...]
    faces: tuple[FaceBox, ...] = ()
    yaw: float | None = None
    """Head yaw in degrees relative to the candidate's calibrated neutral pose."""
    pitch: float | None = None
    gaze: tuple[float, float] | None = None
    """Iris offset from the eye centre, -1..1 per axis (x right, y down), when measured."""
    identity_distance: float | None = None
    """Descriptor distance to the enrolled face when an identity check ran on this frame."""
    identity_verdict: IdentityVerdict | None = None
    """What the identity check due on this frame concluded; None when none was due."""
    unusable_reason: str | None = None
    """Why the face could not be judged (a `detectors.face_quality.REFUSALS` code) when
    `identity_verdict` is UNUSABLE."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Time spent per stage, for benchmarks."""
    repeated: bool = False
    """True when this repeats an earlier analysis at a later frame (`repeat_at`)."""

    def repeat_at(self, ts: float) -> FrameAnalysis:
        """This analysis again for a later frame showing the same picture: the same findings
        at `ts`, marked repeated. An identity check is an event, not a state: not repeated."""
        return replace(
            self,
            ts=ts,
            observations=tuple(
                replace(o, ts=ts, repeated=True)
                for o in self.observations
                if o.kind is not AlertKind.FACE_MISMATCH
            ),
            identity_distance=None,
            identity_verdict=None,
            unusable_reason=None,
            timings_ms={},
            repeated=True,
        )


@dataclass(slots=True)
class IdentityCounts:
    """One session's identity checks by verdict, for the live stats."""

    match: int = 0
    uncertain: int = 0
    mismatch: int = 0
    unusable: int = 0
    """Frames on which a check was due but the face could not be judged."""

    def add(self, analysis: FrameAnalysis) -> None:
        verdict = analysis.identity_verdict
        if verdict is not None and not analysis.repeated:
            name = str(verdict)
            setattr(self, name, getattr(self, name) + 1)
