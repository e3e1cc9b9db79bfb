"""A session's risk score, 0..100, from its alerts.

Each alert contributes

    c = S[severity] * K[kind] * D(duration) * R[review_status]

    S  severity weight:   low 2, medium 5, high 10
    K  kind weight:       face_mismatch 1.5, multiple_faces 1.3, camera_blocked 1.2,
                          copy_paste 1.2, no_face 1.0, speech 1.0, focus_lost 1.0,
                          looking_away 0.8, talking 0.8, fullscreen_exit 0.6,
                          stream_lost 0.5 (usually the network), any other kind 1.0
    D  duration factor:   D(d) = 1 + 2 * (1 - exp(-d / 120)), d in seconds;
                          1 for an instant, about 1.8 after 2 minutes, never above 3
    R  review weight:     pending 1, confirmed 2, dismissed 0 (unknown statuses count as pending)

and the score saturates smoothly towards 100:

    score = 100 * (1 - exp(-sum(c) / 50))

So one pending high-severity no_face of 10 s scores about 21, and one confirmed face_mismatch
lasting 5 minutes about 82. Dismissing an alert removes its contribution entirely; the score
only grows with more, longer or more severe alerts, and never leaves 0..100.

An open alert (no `ended_at`) counts up to `now` when `now` is given and as an instant
otherwise, so a score stored without a clock is refreshed when the alert ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Literal, Protocol

from alerts.events import Severity
from core.kinds import AlertKind

SEVERITY_WEIGHT: Mapping[str, float] = MappingProxyType(
    {Severity.LOW: 2.0, Severity.MEDIUM: 5.0, Severity.HIGH: 10.0}
)
KIND_WEIGHT: Mapping[str, float] = MappingProxyType(
    {
        AlertKind.FACE_MISMATCH: 1.5,
        AlertKind.MULTIPLE_FACES: 1.3,
        AlertKind.CAMERA_BLOCKED: 1.2,
        AlertKind.COPY_PASTE: 1.2,
        AlertKind.SCREEN_SHARE_STOPPED: 1.2,
        AlertKind.SECOND_MONITOR: 1.0,
        AlertKind.NOT_ENTIRE_SCREEN: 0.6,
        AlertKind.NO_FACE: 1.0,
        AlertKind.SPEECH: 1.0,
        AlertKind.FOCUS_LOST: 1.0,
        AlertKind.LOOKING_AWAY: 0.8,
        AlertKind.TALKING: 0.8,
        AlertKind.FULLSCREEN_EXIT: 0.6,
        AlertKind.STREAM_LOST: 0.5,
    }
)
REVIEW_WEIGHT: Mapping[str, float] = MappingProxyType(
    {"pending": 1.0, "confirmed": 2.0, "dismissed": 0.0}
)
RiskBand = Literal["low", "mid", "high"]
RISK_BANDS: tuple[tuple[RiskBand, float], ...] = (("high", 50.0), ("mid", 20.0), ("low", 0.0))
"""How the consoles band a score: the first band whose lower bound the score reaches. One
pending 10 s no_face (about 21) is "mid"; "high" takes about three such alerts, or one
confirmed face_mismatch of a minute."""
DURATION_MAX = 3.0
DURATION_TAU = 120.0
SCORE_SCALE = 50.0


class AlertSummary(Protocol):
    """What scoring reads from an alert: the engine's times or the database's datetimes."""

    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def started_at(self) -> float | datetime: ...
    @property
    def ended_at(self) -> float | datetime | None: ...
    @property
    def review_status(self) -> str: ...


def _seconds(start: float | datetime, end: float | datetime) -> float:
    if isinstance(start, datetime) and isinstance(end, datetime):
        seconds = (end - start).total_seconds()
    elif not isinstance(start, datetime) and not isinstance(end, datetime):
        seconds = float(end) - float(start)
    else:
        raise TypeError(f"cannot mix datetimes and seconds: {start!r}, {end!r}")
    # A clock step backwards is not a negative duration.
    return seconds if seconds > 0 else 0.0


def duration_factor(seconds: float) -> float:
    return 1.0 + (DURATION_MAX - 1.0) * (1.0 - math.exp(-seconds / DURATION_TAU))


def contribution(alert: AlertSummary, now: float | datetime | None = None) -> float:
    """One alert's share of the raw sum, per the module docstring."""
    severity = str(alert.severity)
    if severity not in SEVERITY_WEIGHT:
        raise ValueError(f"severity: unknown severity {severity!r}")
    review = REVIEW_WEIGHT.get(str(alert.review_status), 1.0)
    if review == 0.0:
        return 0.0
    end = alert.ended_at if alert.ended_at is not None else now
    seconds = 0.0 if end is None else _seconds(alert.started_at, end)
    kind = KIND_WEIGHT.get(str(alert.kind), 1.0)
    return SEVERITY_WEIGHT[severity] * kind * duration_factor(seconds) * review


def risk_score(alerts: Iterable[AlertSummary], now: float | datetime | None = None) -> float:
    """0..100; see the module docstring for the formula."""
    total = sum(contribution(alert, now) for alert in alerts)
    return 100.0 * (1.0 - math.exp(-total / SCORE_SCALE))


def risk_band(score: float) -> RiskBand:
    """"low", "mid" or "high" (`RISK_BANDS`)."""
    return next(name for name, lower in RISK_BANDS if score >= lower)
