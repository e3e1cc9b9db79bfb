"""Bodies and answers of recording, review and privacy operations (the rest: api/schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import MAX_ID, Id, QueryModel, StrictBody

Track = Literal["camera", "screen"]
AuditActionName = Literal[
    "watched_live",
    "played_recording",
    "reviewed_alert",
    "messaged",
    "terminated",
    "exported",
    "deleted",
    "changed_account",
]


class RecordingTrackOut(BaseModel):
    track: Track
    status: Literal["recording", "ready"]
    """"recording" while the attempt runs (or its last part is being merged)."""
    started_at: datetime
    """The wall-clock instant of the file's time 0: an alert at `t` is at `t - started_at`."""
    duration_s: float | None
    size_bytes: int | None
    url: str | None
    """The WebM (range requests; the media pass cookie or a bearer token), once ready."""


class RecordingOut(BaseModel):
    session_id: int
    tracks: list[RecordingTrackOut]
    pass_expires_in: int
    """Seconds the recording pass (an HttpOnly cookie set by this answer) stays valid."""


class AuditQuery(QueryModel):
    actor_id: Id | None = None
    action: AuditActionName | None = None
    session_id: Id | None = None
    subject_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_ID)] = 0


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_id: int
    actor: str
    action: AuditActionName
    exam_id: int | None
    session_id: int | None
    subject_id: int | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditOut]
    total: int
    limit: int
    offset: int


class ConsentOut(BaseModel):
    text: str
    """The deployment's consent text (`PROCTOR_CONSENT_TEXT`)."""
    version: str
    """Its SHA-256: what a consent is given to."""
    given_at: datetime | None
    """When the caller agreed to this text; None if they have not."""


class ConsentBody(StrictBody):
    version: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    """The `version` of the text shown: a consent to an older text is refused (409)."""


class DeletionOut(BaseModel):
    user_id: int
    rows_deleted: dict[str, int]
    """Per table."""
    files_deleted: int
    not_deleted: list[str]
    """What is still held about the candidate, and why."""
