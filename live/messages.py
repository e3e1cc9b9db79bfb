"""The messages the live pipeline sends, typed once with one serialisation each.

Two channels carry them (both documented in `GET /api/asyncapi.json`):

- the proctors' consoles, per exam (`ConsoleBus`, then the console WebSocket):
  `AlertMessage`, `SessionChanged`, `Overlay`, `ProctorMessage`, `Missed`;
- the candidate's page, over the `proctor` data channel: `AlertMessage` and
  `ProctorMessage` out; `PageEvent` in (`page_events.observations_from_page`).

Each is a frozen pydantic model with a literal `type`, so a receiver (Python or JS)
switches on one field, and `CONSOLE_MESSAGE` parses any of them back from JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter

from alerts.dispatch import DeliveredAlert
from alerts.events import IncidentState, Severity
from core.kinds import AlertKind
from detectors.base import FrameAnalysis
from live.clock import wall_time

__all__ = [
    "CONSOLE_MESSAGE",
    "AlertMessage",
    "ConsoleMessage",
    "FaceBoxOut",
    "Missed",
    "Overlay",
    "ProctorMessage",
    "SessionChanged",
    "SessionEvent",
]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_json(self) -> dict[str, object]:
        """The one wire form (by alias: `ProctorMessage.sender` is sent as "from")."""
        return self.model_dump(mode="json", by_alias=True)


class AlertMessage(_Message):
    """One step of an incident, as the page, the consoles and upload answers receive it."""

    type: Literal["alert"] = "alert"
    id: int | None
    """The stored alert's id (None only if the store gave none back)."""
    incident_id: str
    session_id: int
    kind: AlertKind
    severity: Severity
    state: IncidentState
    started_at: datetime | None
    ended_at: datetime | None
    message: str
    confidence: float
    evidence_url: str | None

    @classmethod
    def of(cls, alert: DeliveredAlert) -> AlertMessage:
        event = alert.event
        return cls(
            id=alert.alert_id,
            incident_id=event.incident_id,
            session_id=alert.session_id,
            kind=event.kind,
            severity=event.severity,
            state=event.state,
            started_at=wall_time(event.started_at),
            ended_at=None if event.ended_at is None else wall_time(event.ended_at),
            message=event.message,
            confidence=round(event.confidence, 3),
            evidence_url=(
                f"/api/alerts/{alert.alert_id}/evidence" if alert.evidence_path else None
            ),
        )


SessionEvent = Literal["started", "connected", "disconnected", "ended", "updated"]


class SessionChanged(_Message):
    """Something about one attempt changed; consoles read its summary again."""

    type: Literal["session"] = "session"
    session_id: int
    event: SessionEvent


class FaceBoxOut(_Message):
    """A face in normalised image coordinates (0..1, origin top-left)."""

    x: float
    y: float
    width: float
    height: float
    score: float


class Overlay(_Message):
    """One analysed frame's geometry, drawn over the candidate's live video."""

    type: Literal["analysis"] = "analysis"
    session_id: int
    at: datetime
    faces: list[FaceBoxOut]
    yaw: float | None
    pitch: float | None
    gaze: tuple[float, float] | None
    active: list[AlertKind]
    """The conditions the frame showed (not yet incidents)."""

    @classmethod
    def of(cls, session_id: int, analysis: FrameAnalysis) -> Overlay:
        return cls(
            session_id=session_id,
            at=wall_time(analysis.ts),
            faces=[
                FaceBoxOut(x=f.x, y=f.y, width=f.width, height=f.height, score=round(f.score, 3))
                for f in analysis.faces
            ],
            yaw=analysis.yaw,
            pitch=analysis.pitch,
            gaze=analysis.gaze,
            active=sorted({o.kind for o in analysis.observations if o.active}),
        )


class ProctorMessage(_Message):
    """A proctor's message to a candidate: shown on the page, echoed to the consoles."""

    type: Literal["message"] = "message"
    session_id: int
    text: str
    sender: str = Field(serialization_alias="from", validation_alias=AliasChoices("from", "sender"))
    at: datetime


class Missed(_Message):
    """Messages were dropped before this one (a slow reader): reload from the database."""

    type: Literal["missed"] = "missed"
    count: int


ConsoleMessage = Annotated[
    AlertMessage | SessionChanged | Overlay | ProctorMessage | Missed,
    Field(discriminator="type"),
]
CONSOLE_MESSAGE: TypeAdapter[ConsoleMessage] = TypeAdapter(ConsoleMessage)
