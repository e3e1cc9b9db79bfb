"""Exceptions raised by the alerts package."""

from __future__ import annotations


class AlertNotStored(Exception):
    """The alert store failed on every attempt, so the alert was delivered nowhere."""

    def __init__(self, incident_id: str, session_id: int, attempts: int) -> None:
        super().__init__(
            f"alert {incident_id} of session {session_id} not stored after {attempts} attempts"
        )
        self.incident_id = incident_id
        self.session_id = session_id
        self.attempts = attempts
