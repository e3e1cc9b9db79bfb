"""Request and response bodies. Bodies are strict: unknown fields and wrong types are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from alerts.kinds import Source
from alerts.risk import RiskBand
from core.kinds import AlertKind
from live.messages import SessionEvent

MAX_ID = 2**31 - 1
"""Ids are `integer` columns (32-bit on PostgreSQL): anything larger names nothing, and
SQLite refuses integers beyond 64 bits with an error, not an empty answer."""
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
RoleName = Literal["candidate", "proctor", "admin"]
PresetName = Literal["strict", "normal", "lenient"]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QueryModel(BaseModel):
    # Query strings are text: types are coerced ("5" -> 5), unknown keys still refused.
    model_config = ConfigDict(extra="forbid")


class RegisterBody(StrictBody):
    username: Username
    password: Password
    full_name: Annotated[str, StringConstraints(max_length=200)] | None = None


class LoginBody(StrictBody):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class CreateUserBody(RegisterBody):
    role: RoleName


class UserOut(BaseModel):
    id: int
    username: str
    role: RoleName
    full_name: str | None
    created_at: datetime
    disabled_at: datetime | None = None


class LoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    """Trade it at POST /refresh for the next access token (and the next refresh token:
    each one works once)."""
    refresh_expires_in: int
    user: UserOut


RefreshTokenText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RefreshBody(StrictBody):
    refresh_token: RefreshTokenText


class LogoutBody(StrictBody):
    refresh_token: RefreshTokenText | None = None


class LogoutOut(BaseModel):
    signed_out: bool


class AccountBody(StrictBody):
    disabled: bool


class TicketOut(BaseModel):
    ticket: str
    """Open the console WebSocket with ?ticket=<ticket> (once, within expires_in seconds)."""
    expires_in: int


class IceServerOut(BaseModel):
    urls: str
    username: str | None = None
    credential: str | None = None


class IceConfigOut(BaseModel):
    ice_servers: list[IceServerOut]
    ice_transport_policy: Literal["all", "relay"]
    expires_at: int | None
    """Unix time after which the TURN credentials are refused for new connections."""


class QuestionIn(StrictBody):
    text: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    options: Annotated[
        list[Annotated[str, StringConstraints(max_length=1000)]], Field(max_length=26)
    ] = []
    answer: Annotated[str, StringConstraints(max_length=5000)] | None = None
    """The correct answer; omit for open questions graded by a person."""
    points: Annotated[float, Field(ge=0, le=1000)] = 1.0

    @model_validator(mode="after")
    def answer_is_an_option(self) -> QuestionIn:
        if self.options and self.answer is not None and self.answer not in self.options:
            raise ValueError("answer must be one of options")
        return self


class ExamIn(StrictBody):
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=10000)] = ""
    duration_minutes: Annotated[int, Field(ge=1, le=1440)]
    show_score: bool = True
    rules_preset: PresetName = "normal"
    rules_overrides: dict[str, dict[str, float | int | bool | str]] = {}
    questions: Annotated[list[QuestionIn], Field(max_length=500)] = []


class QuestionOut(BaseModel):
    id: int
    position: int
    text: str
    options: list[str]
    points: float
    answer: str | None = None
    """Only shown to proctors and admins."""


class ExamOut(BaseModel):
    id: int
    title: str
    description: str
    duration_minutes: int
    show_score: bool
    rules_preset: str
    rules_overrides: dict[str, dict[str, float | int | bool | str]]
    questions: list[QuestionOut]
    created_at: datetime


class ExamList(BaseModel):
    exams: list[ExamOut]


class EnrolBody(StrictBody):
    user_ids: Annotated[list[Id], Field(max_length=1000)] = []
    usernames: Annotated[list[Username], Field(max_length=1000)] = []

    @model_validator(mode="after")
    def someone(self) -> EnrolBody:
        if not self.user_ids and not self.usernames:
            raise ValueError("give user_ids or usernames")
        return self


class EnrolOut(BaseModel):
    exam_id: int
    role: Literal["candidate", "proctor"]
    user_ids: list[int]


class SessionOut(BaseModel):
    session_id: int
    exam_id: int
    candidate_id: int
    status: Literal["active", "submitted", "terminated", "expired"]
    started_at: datetime
    deadline_at: datetime
    ended_at: datetime | None
    seconds_left: float
    risk_score: float
    score: float | None
    max_score: float | None


class SessionList(BaseModel):
    sessions: list[SessionOut]


class SessionQuery(QueryModel):
    exam_id: Id | None = None
    status: Literal["active", "submitted", "terminated", "expired"] | None = None


class AnswerIn(StrictBody):
    question_id: Id
    answer: Annotated[str, StringConstraints(max_length=20000)]


class AnswersBody(StrictBody):
    answers: Annotated[list[AnswerIn], Field(max_length=500)]


class SubmitBody(AnswersBody):
    session_id: Id


class SavedOut(BaseModel):
    session_id: int
    saved: int


class SubmitOut(BaseModel):
    session_id: int
    status: str
    score: float | None
    """None when the exam does not show scores to candidates."""
    max_score: float | None


class AlertOut(BaseModel):
    id: int
    incident_id: str
    session_id: int
    exam_id: int
    kind: str
    severity: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    message: str
    confidence: float
    evidence_url: str | None
    review_status: Literal["pending", "confirmed", "dismissed"]
    review_note: str | None
    reviewed_by: int | None
    reviewed_at: datetime | None


class AlertQuery(QueryModel):
    session_id: Id | None = None
    exam_id: Id | None = None
    kind: Annotated[str, StringConstraints(max_length=32)] | None = None
    severity: Literal["low", "medium", "high"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    review_status: Literal["pending", "confirmed", "dismissed"] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_ID)] = 0


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    total: int
    limit: int
    offset: int


class ReviewBody(StrictBody):
    review_status: Literal["pending", "confirmed", "dismissed"]
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class OfferBody(StrictBody):
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=65536)]
    type: Literal["offer"]


class ReferencePhotoOut(BaseModel):
    user_id: int
    enrolled: bool
    enrolled_at: datetime


class ReferenceCheckOut(BaseModel):
    """What enrolment would say of a photo, with the figures behind it (None: no single face
    to measure)."""

    usable: bool
    code: str | None
    """Why it would be refused: `no_face`, `multiple_faces`, `face_too_small`, `face_cut`,
    `face_turned`, `face_blurred`, `face_too_dark`, `face_too_bright`, `face_noisy`."""
    failed: list[str]
    """Every reason, when several apply (`code` is the first)."""
    message: str
    width_px: float | None
    """Face width in the photo's pixels (enrolment wants 80 or more)."""
    yaw: float | None
    """Head turn in degrees (enrolment wants at most 30 either way)."""
    sharpness: float | None
    brightness: float | None
    contrast: float | None
    noise: float | None


class MessageBody(StrictBody):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class MessageOut(BaseModel):
    session_id: int
    delivered: bool
    at: datetime


class ConsoleSession(BaseModel):
    """One attempt as the proctor console shows it."""

    session_id: int
    exam_id: int
    candidate_id: int
    username: str
    full_name: str | None
    status: Literal["active", "submitted", "terminated", "expired"]
    started_at: datetime
    deadline_at: datetime
    ended_at: datetime | None
    connected: bool
    """The candidate's camera connection is up right now."""
    live: bool
    """The server has a live pipeline for this attempt (it has streamed or uploaded)."""
    viewers: int
    risk_score: float
    alert_count: int
    open_alerts: list[AlertOut]
    """Alerts that have not ended yet."""


class OverviewQuery(QueryModel):
    status: Literal["active", "all"] = "active"
    """"all": every attempt at the exam (history, charts), not only the active ones."""


class ConsoleSnapshot(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    exam_id: int
    sessions: list[ConsoleSession]
    """The exam's active attempts (or all of them, when asked)."""


# --- the console WebSocket (besides `ConsoleSnapshot` and the live messages it relays) -----


class SessionUpdate(BaseModel):
    """An attempt changed (status, connection, risk score, open alerts): its new entry."""

    type: Literal["session"] = "session"
    event: SessionEvent
    session: ConsoleSession


class ErrorBody(BaseModel):
    code: str
    message: str


class ConsoleClosed(BaseModel):
    """Sent before the server closes a console (code 4000 + the HTTP status the same request
    would get now): the caller may no longer watch (token expired, role or assignment
    changed)."""

    type: Literal["closed"] = "closed"
    error: ErrorBody


class FocusRequest(BaseModel):
    """From the console: stream the overlays of this attempt (None: of none)."""

    type: Literal["focus"]
    session_id: int | None = None


class SnapshotRequest(BaseModel):
    """From the console: send a fresh snapshot."""

    type: Literal["snapshot"]


ConsoleRequest = Annotated[FocusRequest | SnapshotRequest, Field(discriminator="type")]


class KindOut(BaseModel):
    kind: AlertKind
    label: str
    """What the proctor sees."""
    notice: str
    """What the candidate is told when an incident of this kind starts."""
    color: str
    risk_weight: float
    """The kind's weight in the risk score (alerts/risk.py)."""
    reported: Source
    """How its source reports it (alerts/kinds.py)."""


class RiskBandOut(BaseModel):
    name: RiskBand
    from_score: float
    """Scores from this value up (to the next band) are in the band."""


class VocabularyOut(BaseModel):
    kinds: list[KindOut]
    """Every alert kind the server raises."""
    risk_bands: list[RiskBandOut]
    """Highest first."""
