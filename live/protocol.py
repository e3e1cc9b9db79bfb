"""What the live pipeline answers, and how a front process asks a live worker for it.

Every request is a model with a literal `op` and exactly one reply model (a `Req[Reply]`,
whose `reply` names it); a refusal travels as `Refused` and is raised again on the caller's
side as `LiveRefused`, so one vocabulary (`Refusal`) covers the in-process pipeline, the worker
processes and, at the edge, HTTP (`api/errors.py` maps each refusal to a status once).
Events flow the other way, worker to front, as `WorkerEvent`.

Wire form: JSON. Binary payloads (an uploaded frame, a thumbnail) are base64.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from live.counters import HistogramOut
from live.messages import AlertMessage, ConsoleMessage, FaceBoxOut, ProctorMessage

__all__ = [
    "REQUEST",
    "WORKER_EVENT",
    "Close",
    "Done",
    "LiveRefused",
    "IdentityStats",
    "LiveSessionStats",
    "LiveState",
    "LiveStates",
    "LiveStats",
    "ObservationOut",
    "Offer",
    "OfferAnswer",
    "Refusal",
    "Refused",
    "Req",
    "Request",
    "SendToPage",
    "SentToPage",
    "SessionRef",
    "States",
    "Stats",
    "Thumbnail",
    "ThumbnailReply",
    "Upload",
    "UploadResult",
    "Watch",
    "WatchAnswer",
    "WorkerEvent",
]


class Refusal(StrEnum):
    """Why the live pipeline did not do what it was asked."""

    SERVER_BUSY = "server_busy"
    """A new live candidate would not be watched well: try again later."""
    UNAVAILABLE = "live_unavailable"
    """The pipeline (or the worker holding the attempt) is not running or restarting."""
    INVALID_OFFER = "invalid_offer"
    """The SDP offer cannot work."""
    NOT_LIVE = "not_live"
    """The attempt has no live session: the candidate has not connected a camera."""
    VIEWER_LIMIT = "viewer_limit"
    """The candidate already has the most proctors watching."""
    NOT_AN_IMAGE = "not_an_image"
    """An uploaded frame could not be decoded."""


class LiveRefused(Exception):
    """The live pipeline refused a request; `reason` says why, the message says it to a
    person."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _Model(BaseModel):
    # bytes travel as base64 in JSON and stay raw bytes in Python.
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )


# --- replies ------------------------------------------------------------------------------


class OfferAnswer(_Model):
    sdp: str
    type: Literal["answer"] = "answer"
    constraints: dict[str, Any]
    """getUserMedia constraints: what resolution and frame rate to capture."""
    sender: dict[str, Any]
    """RTCRtpSender encoding parameters per kind: what bitrate to send."""


class ObservationOut(_Model):
    kind: str
    active: bool
    confidence: float
    message: str


class UploadResult(_Model):
    session_id: int
    faces: list[FaceBoxOut]
    observations: list[ObservationOut]
    alerts: list[AlertMessage]


class Done(_Model):
    """The request was carried out; nothing to return."""


class SentToPage(_Model):
    delivered: bool
    """False when the candidate's data channel is not open."""


class WatchAnswer(_Model):
    sdp: str
    type: Literal["answer"] = "answer"
    viewers: int
    """Proctors now watching this candidate, this one included."""
    max_viewers: int


class ThumbnailReply(_Model):
    jpeg: bytes | None
    """The latest analysed frame, small; None before the first analysis."""


class LiveState(_Model):
    """What the proctors' console shows of a live session."""

    connected: bool
    viewers: int


class LiveStates(_Model):
    states: dict[int, LiveState]
    """The live ones among the sessions asked about."""


class IdentityStats(_Model):
    """One session's identity checks by verdict (`detectors.base.IdentityCounts`)."""

    match: int
    uncertain: int
    mismatch: int
    unusable: int
    """Frames on which a check was due but the face was too small, turned, blurred or badly
    lit to be judged: not evidence either way."""


class LiveSessionStats(_Model):
    session_id: int
    connection_state: str | None
    """The peer connection's state, None when no offer has been accepted."""
    channel_open: bool
    frames_received: int
    frames_analysed: int
    frames_repeated: int
    """Samples that showed the picture last analysed and got that analysis again."""
    analysis_errors: int
    last_frame_at: float | None
    last_analysed_ts: float | None
    """Arrival time (server monotonic) of the newest analysed frame."""
    last_analysis_s: float | None
    """Executor time of the newest analysis (queueing for a worker included)."""
    last_latency_s: float | None
    """From the newest analysed frame's arrival to its result."""
    audio_frames_received: int
    """Decoded audio frames read so far: one per packet (~8 a second at 120 ms)."""
    audio_chunks_processed: int
    identity: IdentityStats | None = None
    """None until the session's live analysis exists."""


class LiveStats(_Model):
    now: float
    """The server's `time.monotonic()` when the counters were read (one clock for every
    process of a machine)."""
    peers: int
    live_sessions: int
    """Attempts this pipeline holds (streaming or uploading)."""
    executor_queue: int | None
    """Detector jobs waiting for a worker thread (None if the executor does not say)."""
    loop_lag_s: float
    """The worst event-loop lateness over the last 5 s (`live.admission.LoopLag`)."""
    analysis_load: float
    """The analysers' busy share of their capacity over the last 5 s (the busiest worker's
    with several; `live.admission.BusyShare`)."""
    offers_refused: int
    """New live candidates refused so far because the server was at its limit."""
    analyses: int
    """Frames analysed so far (repeats of a still picture not counted)."""
    stores_failed: int
    """Alert events that could not be stored (and so were sent nowhere)."""
    analysis_latency: HistogramOut
    delivery_latency: HistogramOut
    worker_restarts: int
    """Live worker processes started again after dying."""
    sessions: list[LiveSessionStats]


class Refused(_Model):
    refused: Refusal
    message: str

    def error(self) -> LiveRefused:
        return LiveRefused(self.refused, self.message)


# --- requests -----------------------------------------------------------------------------


R = TypeVar("R", bound=BaseModel, covariant=True)


class Req(_Model, Generic[R]):
    """A request whose reply is an `R`; `reply` is that model, for parsing it."""

    reply: ClassVar[type[BaseModel]]


class SessionRef(_Model):
    """What the pipeline needs to open an attempt's live session (the caller has already
    checked who may and that the attempt is active)."""

    session_id: int
    exam_id: int
    candidate_id: int


class Offer(Req[OfferAnswer]):
    """The candidate page's WebRTC offer for the attempt's camera and microphone."""

    reply = OfferAnswer
    op: Literal["offer"] = "offer"
    session: SessionRef
    sdp: str
    type: Literal["offer"] = "offer"


class Upload(Req[UploadResult]):
    """One JPEG/PNG frame through the attempt's detectors and rules."""

    reply = UploadResult
    op: Literal["upload"] = "upload"
    session: SessionRef
    image: bytes


class Close(Req[Done]):
    """The attempt ended: flush its alerts and hang up."""

    reply = Done
    op: Literal["close"] = "close"
    session_id: int


class SendToPage(Req[SentToPage]):
    """A message for the candidate's page, over its data channel."""

    reply = SentToPage
    op: Literal["send"] = "send"
    message: ProctorMessage


class Watch(Req[WatchAnswer]):
    """A proctor's receive-only WebRTC offer for the candidate's live video."""

    reply = WatchAnswer
    op: Literal["watch"] = "watch"
    session_id: int
    sdp: str
    type: Literal["offer"] = "offer"


class Thumbnail(Req[ThumbnailReply]):
    reply = ThumbnailReply
    op: Literal["thumbnail"] = "thumbnail"
    session_id: int


class States(Req[LiveStates]):
    reply = LiveStates
    op: Literal["states"] = "states"
    session_ids: list[int]


class Stats(Req[LiveStats]):
    reply = LiveStats
    op: Literal["stats"] = "stats"


Request = Annotated[
    Offer | Upload | Close | SendToPage | Watch | Thumbnail | States | Stats,
    Field(discriminator="op"),
]
REQUEST: TypeAdapter[Request] = TypeAdapter(Request)


# --- events (worker -> front) -------------------------------------------------------------


class WorkerEvent(_Model):
    """A console message a worker's pipeline published, for the front's consoles."""

    exam_id: int
    message: ConsoleMessage


WORKER_EVENT: TypeAdapter[WorkerEvent] = TypeAdapter(WorkerEvent)
