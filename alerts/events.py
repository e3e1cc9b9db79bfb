"""What the rule engine emits: one incident's started, updated and ended events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.kinds import AlertKind


class Severity(StrEnum):
    """How much an incident matters to a reviewer; the values are the public names."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class IncidentState(StrEnum):
    """Where an incident is in its life; each incident emits one STARTED and one ENDED."""

    STARTED = "started"
    UPDATED = "updated"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One step in the life of a debounced incident."""

    incident_id: str
    """uuid4 hex, the same on every event of one incident."""
    kind: AlertKind
    state: IncidentState
    severity: Severity
    started_at: float
    """Session-clock ts at which the condition first held (not when the debounce elapsed)."""
    ended_at: float | None
    """None until ENDED; then the ts at which the condition first cleared."""
    confidence: float
    """Highest detector confidence seen so far in the incident, 0..1."""
    message: str
    """Latest non-empty detail from the detector, e.g. "2 faces in view"."""

