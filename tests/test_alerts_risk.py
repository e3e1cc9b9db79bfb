"""The risk score: monotone in severity and duration, dismissals count zero, bounded 0..100."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from alerts.risk import contribution, risk_score


@dataclass(frozen=True)
class Alert:
    kind: str = "no_face"
    severity: str = "high"
    started_at: float | datetime = 0.0
    ended_at: float | datetime | None = 10.0
    review_status: str = "pending"


def test_no_alerts_is_zero() -> None:
    assert risk_score([]) == 0.0


def test_documented_examples() -> None:
    assert risk_score([Alert()]) == pytest.approx(20.7, abs=0.1)
    mismatch = Alert("face_mismatch", ended_at=300.0, review_status="confirmed")
    assert risk_score([mismatch]) == pytest.approx(81.8, abs=0.1)


def test_grows_with_severity() -> None:
    low, medium, high = (risk_score([Alert(severity=s)]) for s in ("low", "medium", "high"))
    assert 0 < low < medium < high


def test_grows_with_duration_and_saturates() -> None:
    scores = [risk_score([Alert(ended_at=d)]) for d in (0.0, 10.0, 60.0, 600.0, 6000.0)]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)
    # Past a few minutes, extra duration barely matters: at most 3x an instant.
    assert contribution(Alert(ended_at=1e9)) == pytest.approx(3 * contribution(Alert(ended_at=0)))


def test_kind_weights_apply() -> None:
    assert risk_score([Alert("face_mismatch")]) > risk_score([Alert("no_face")])
    assert risk_score([Alert("stream_lost")]) < risk_score([Alert("no_face")])


def test_dismissed_counts_zero_and_confirmed_counts_extra() -> None:
    base = [Alert(kind="talking", severity="medium")]
    assert risk_score([*base, Alert(review_status="dismissed", ended_at=1e6)]) == risk_score(base)
    assert risk_score([Alert(review_status="confirmed")]) > risk_score([Alert()])


def test_bounded_by_100_however_many_alerts() -> None:
    many = [Alert("face_mismatch", ended_at=1e6, review_status="confirmed")] * 500
    score = risk_score(many)
    assert 0.0 <= score <= 100.0
    assert math.isfinite(score)
    assert score > 99.0


def test_more_alerts_never_lower_the_score() -> None:
    alerts: list[Alert] = []
    previous = 0.0
    for i in range(30):
        alerts.append(Alert(severity=("low", "medium", "high")[i % 3], ended_at=float(i)))
        score = risk_score(alerts)
        assert score >= previous
        previous = score


def test_database_datetimes_work_like_seconds() -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    as_datetimes = Alert(started_at=t0, ended_at=t0 + timedelta(seconds=90))
    assert risk_score([as_datetimes]) == pytest.approx(risk_score([Alert(ended_at=90.0)]))


def test_open_alert_counts_up_to_now_or_as_an_instant() -> None:
    open_alert = Alert(started_at=100.0, ended_at=None)
    assert risk_score([open_alert]) == risk_score([Alert(ended_at=0.0)])
    assert risk_score([open_alert], now=400.0) == risk_score([Alert(ended_at=300.0)])


def test_a_backwards_clock_is_not_a_negative_duration() -> None:
    assert risk_score([Alert(started_at=50.0, ended_at=40.0)]) == risk_score([Alert(ended_at=0.0)])


def test_unknown_severity_is_rejected_and_mixed_time_types_too() -> None:
    with pytest.raises(ValueError, match="critical"):
        risk_score([Alert(severity="critical")])
    with pytest.raises(TypeError):
        risk_score([Alert(started_at=datetime(2025, 1, 1, tzinfo=UTC), ended_at=5.0)])
