"""Contracts shared by detectors, the media pipeline and the alert rules.

A detector looks at one frame (or one chunk of audio) and reports, for each alert kind it
covers, whether the condition holds *now*. It never decides whether that is an incident:
the per-session rule engine in `alerts/` does that over time, with hysteresis.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
            timings_ms={},
            repeated=True,
        )
