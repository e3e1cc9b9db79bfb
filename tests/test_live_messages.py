"""The live messages' one wire form: what the page and the consoles receive, and that the
console union parses each back."""

from __future__ import annotations

import json
import time
from datetime import datetime

from alerts.dispatch import DeliveredAlert
from alerts.events import AlertEvent, IncidentState, Severity
from core.kinds import AlertKind
from detectors.base import FaceBox, FrameAnalysis, Observation
from live.messages import CONSOLE_MESSAGE, AlertMessage, Overlay, ProctorMessage


def started_event() -> AlertEvent:
    return AlertEvent(
        incident_id="id0",
        kind=AlertKind.NO_FACE,
        state=IncidentState.STARTED,
        severity=Severity.HIGH,
        started_at=time.monotonic() - 3.0,
        ended_at=None,
        confidence=0.98765,
        message="no face in view",
    )


def test_an_alert_event_is_sent_in_one_json_form() -> None:
    delivered = DeliveredAlert(started_event(), 7, 3, alert_id=41, evidence_path="7/id0.jpg")
    message = AlertMessage.of(delivered)
    sent = message.to_json()
    started_at = sent.pop("started_at")
    assert sent == {
        "type": "alert",
        "id": 41,
        "incident_id": "id0",
        "session_id": 7,
        "kind": "no_face",
        "severity": "high",
        "state": "started",
        "ended_at": None,
        "message": "no face in view",
        "confidence": 0.988,
        "evidence_url": "/api/alerts/41/evidence",
    }
    # Wall time, about 3 s ago, with its zone.
    age = datetime.now().astimezone() - datetime.fromisoformat(str(started_at))
    assert 2.5 < age.total_seconds() < 4.0
    assert CONSOLE_MESSAGE.validate_json(json.dumps({**sent, "started_at": started_at})) == message


def test_no_evidence_url_without_evidence() -> None:
    delivered = DeliveredAlert(started_event(), 7, 3, alert_id=41)
    assert AlertMessage.of(delivered).evidence_url is None


def test_a_proctor_message_is_sent_with_from() -> None:
    now = datetime.now().astimezone()
    message = ProctorMessage(session_id=2, text="eyes up", sender="Pat", at=now)
    sent = message.to_json()
    assert sent["from"] == "Pat" and "sender" not in sent
    assert CONSOLE_MESSAGE.validate_python(sent) == message


def test_an_overlay_lists_the_active_conditions_once_and_sorted() -> None:
    ts = time.monotonic()
    analysis = FrameAnalysis(
        ts=ts,
        observations=(
            Observation(AlertKind.MULTIPLE_FACES, True, ts),
            Observation(AlertKind.LOOKING_AWAY, True, ts),
            Observation(AlertKind.NO_FACE, False, ts),
        ),
        faces=(FaceBox(0.1, 0.2, 0.3, 0.4, 0.91234), FaceBox(0.5, 0.2, 0.2, 0.3, 0.8)),
        yaw=12.5,
    )
    overlay = Overlay.of(9, analysis).to_json()
    assert overlay["type"] == "analysis" and overlay["session_id"] == 9
    assert overlay["active"] == ["looking_away", "multiple_faces"]
    assert overlay["faces"][0] == {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4, "score": 0.912}
    assert (overlay["yaw"], overlay["pitch"], overlay["gaze"]) == (12.5, None, None)
