"""Every REST operation, declared once."""

from __future__ import annotations

from aiohttp import web

from api import (
    accounts,
    alert_history,
    attempts,
    console_rest,
    exams,
    health,
    ice,
    live,
    stats,
    upload,
    vocabulary,
)
from api.asyncapi import ASYNCAPI_PATH, asyncapi_handler
from api.console_socket import LIVE_PATH, close_console_sockets, live_socket
from api.openapi import openapi_handler
from api.operation import Operation, bind
from api.pages import PAGES, STATIC_PREFIX, setup_pages
from api.schemas import (
    AccountBody,
    AlertOut,
    AlertPage,
    AlertQuery,
    AnswersBody,
    ConsoleSnapshot,
    CreateUserBody,
    EnrolBody,
    EnrolOut,
    ExamIn,
    ExamList,
    ExamOut,
    IceConfigOut,
    LoginBody,
    LoginOut,
    LogoutBody,
    LogoutOut,
    MessageBody,
    MessageOut,
    OfferBody,
    OverviewQuery,
    ReferenceCheckOut,
    ReferencePhotoOut,
    RefreshBody,
    RegisterBody,
    ReviewBody,
    SavedOut,
    SessionList,
    SessionOut,
    SessionQuery,
    SubmitBody,
    SubmitOut,
    TicketOut,
    UserOut,
    VocabularyOut,
)
from live.protocol import LiveStats, OfferAnswer, UploadResult, WatchAnswer


def _links(parameter: str, expression: str, *targets: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((target, parameter, expression) for target in targets)


EXAM_LINKS = _links(
    "exam_id", "$response.body#/id", "get_exam", "enrol_candidates", "enrol_proctors",
    "start_session", "overview",
)  # fmt: skip
SESSION_LINKS = _links(
    "session_id", "$response.body#/session_id", "get_session", "save_answers",
    "terminate_session", "offer", "thumbnail", "send_message", "watch",
)  # fmt: skip
ALERT_LINKS = _links(
    "alert_id", "$response.body#/alerts/0/id", "get_alert", "review_alert", "alert_evidence"
)

ANYONE = ("candidate", "proctor", "admin")
STAFF = ("proctor", "admin")
CANDIDATE = ("candidate",)
ADMIN = ("admin",)

OPERATIONS: list[Operation] = [
    Operation("POST", "/register", accounts.register,
              "Register a candidate account (403 when only admins create accounts)", None,
              body=RegisterBody, response=UserOut, status=201, errors=(403, 409, 422, 429)),
    Operation("POST", "/login", accounts.login,
              "Log in; returns a bearer token and a refresh token", None,
              body=LoginBody, response=LoginOut, errors=(401, 403, 422, 429)),
    Operation("POST", "/refresh", accounts.refresh,
              "Trade a refresh token (used up) for a new access token and refresh token", None,
              body=RefreshBody, response=LoginOut, errors=(401, 422)),
    Operation("POST", "/logout", accounts.logout,
              "Sign out: revoke this access token and the refresh token's sign-in", ANYONE,
              body=LogoutBody, response=LogoutOut, errors=(422,)),
    Operation("GET", "/healthz", health.healthz, "The process answers (liveness)", None,
              response=health.HealthOut),
    Operation("GET", "/readyz", health.readyz,
              "Database, Redis (clustered) and live pipeline answer (readiness)", None,
              response=health.ReadyOut, errors=(503,)),
    Operation("GET", "/metrics", health.metrics, "Prometheus metrics of this node", None,
              binary_response="text/plain", errors=(503,)),
    Operation("GET", "/api/vocabulary", vocabulary.vocabulary,
              "The alert kinds (labels, notices, colours, risk weights) and the risk bands", None,
              response=VocabularyOut),
    Operation("GET", "/api/me", accounts.me, "The caller's account", ANYONE, response=UserOut),
    Operation("POST", "/api/users", accounts.add_user, "Create a user of any role", ADMIN,
              body=CreateUserBody, response=UserOut, status=201, errors=(409, 422)),
    Operation("PATCH", "/api/users/{user_id}", accounts.update_account,
              "Disable an account (its sign-ins end at once) or enable it again", ADMIN,
              body=AccountBody, response=UserOut, errors=(404, 409, 422)),
    Operation("POST", "/api/ws-ticket", accounts.ws_ticket,
              "A single-use ticket (30 s) to open the console WebSocket with ?ticket=", STAFF,
              response=TicketOut),
    Operation("GET", "/api/ice-servers", ice.ice_config,
              "STUN/TURN servers for the page's peer connection, TURN credentials minted for "
              "the caller", ANYONE, response=IceConfigOut),
    Operation("POST", "/api/exams", exams.create_exam, "Create an exam with questions", STAFF,
              body=ExamIn, response=ExamOut, status=201, errors=(422,), links=EXAM_LINKS),
    Operation("GET", "/api/exams", exams.list_exams, "Exams the caller may see", ANYONE,
              response=ExamList),
    Operation("GET", "/api/exams/{exam_id}", exams.get_exam, "One exam (answer keys for staff)",
              ANYONE, response=ExamOut, errors=(404,)),
    Operation("POST", "/api/exams/{exam_id}/candidates", exams.enrol_candidates,
              "Enrol candidates in an exam", STAFF, body=EnrolBody, response=EnrolOut,
              errors=(404, 422)),
    Operation("POST", "/api/exams/{exam_id}/proctors", exams.enrol_proctors,
              "Assign proctors to an exam", STAFF, body=EnrolBody, response=EnrolOut,
              errors=(404, 422)),
    Operation("POST", "/api/exams/{exam_id}/sessions", attempts.start_session,
              "Start an attempt (one active attempt per candidate and exam)", CANDIDATE,
              response=SessionOut, status=201, errors=(404, 409), links=SESSION_LINKS),
    Operation("GET", "/api/sessions", attempts.list_sessions, "Attempts the caller may see",
              ANYONE, query=SessionQuery, response=SessionList),
    Operation("GET", "/api/sessions/{session_id}", attempts.get_session, "One attempt", ANYONE,
              response=SessionOut, errors=(404,)),
    Operation("PUT", "/api/sessions/{session_id}/answers", attempts.save_answers,
              "Autosave answers during the attempt", CANDIDATE, body=AnswersBody,
              response=SavedOut, errors=(404, 409, 422)),
    Operation("POST", "/api/sessions/{session_id}/terminate", attempts.terminate_session,
              "End a candidate's attempt", STAFF, response=SessionOut, errors=(404, 409)),
    Operation("POST", "/submit", attempts.submit, "Submit answers and close the attempt",
              CANDIDATE, body=SubmitBody, response=SubmitOut, errors=(404, 409, 422)),
    Operation("GET", "/alerts", alert_history.list_alerts, "Alert history, newest first",
              ANYONE, query=AlertQuery, response=AlertPage, links=ALERT_LINKS),
    Operation("GET", "/api/alerts/{alert_id}", alert_history.get_alert, "One alert", ANYONE,
              response=AlertOut, errors=(404,)),
    Operation("PATCH", "/api/alerts/{alert_id}", alert_history.review_alert,
              "Review an alert: confirm or dismiss, with a note", STAFF, body=ReviewBody,
              response=AlertOut, errors=(404, 422)),
    Operation("GET", "/api/alerts/{alert_id}/evidence", alert_history.alert_evidence,
              "The alert's evidence snapshot", ANYONE, binary_response="image/jpeg",
              errors=(404,)),
    Operation("PUT", "/api/me/reference-photo", live.put_reference_photo,
              "Enrol the caller's reference face (422 says why a photo is refused)", CANDIDATE,
              content=live.PHOTO_CONTENT, response=ReferencePhotoOut, errors=(413, 415, 422, 503)),
    Operation("POST", "/api/me/reference-photo/check", live.check_reference_photo,
              "What enrolment would say of a photo, with the figures (nothing is stored)",
              CANDIDATE, content=live.PHOTO_CONTENT, response=ReferenceCheckOut,
              errors=(413, 415, 422, 503)),
    Operation("GET", "/api/me/reference-photo", live.reference_photo_status,
              "Whether the caller has enrolled a reference face", CANDIDATE,
              response=ReferencePhotoOut, errors=(404,)),
    Operation("POST", "/api/sessions/{session_id}/offer", live.offer,
              "WebRTC offer -> answer for the attempt's camera and microphone", CANDIDATE,
              body=OfferBody, response=OfferAnswer, errors=(404, 409, 503)),
    Operation("GET", stats.LIVE_STATS_PATH, stats.live_stats,
              "Counters of the live pipeline (benchmarks, health)", ADMIN,
              response=LiveStats, errors=(503,)),
    Operation("POST", "/upload-frame", upload.upload_frame,
              "Analyse one frame (for clients without WebRTC)", CANDIDATE,
              content=upload.UPLOAD_FORM, response=UploadResult,
              errors=(400, 404, 409, 413, 415, 422, 503)),
    Operation("GET", "/api/exams/{exam_id}/overview", console_rest.overview,
              "The exam's active attempts as the console shows them (also sent first on the "
              "WebSocket /api/exams/{exam_id}/live)", STAFF, query=OverviewQuery,
              response=ConsoleSnapshot, errors=(404, 422, 503)),
    Operation("GET", "/api/sessions/{session_id}/thumbnail", console_rest.thumbnail,
              "JPEG (320 px wide) of the latest analysed frame, shared by all viewers", STAFF,
              binary_response="image/jpeg", errors=(404, 503)),
    Operation("POST", "/api/sessions/{session_id}/message", console_rest.send_message,
              "Send a message to the candidate's page (data channel)", STAFF, body=MessageBody,
              response=MessageOut, errors=(404, 409, 422, 503)),
    Operation("POST", "/api/sessions/{session_id}/watch", console_rest.watch,
              "WebRTC receive-only offer -> answer with the candidate's live video", STAFF,
              body=OfferBody, response=WatchAnswer, errors=(400, 404, 409, 422, 503)),
]  # fmt: skip


UNDOCUMENTED_PATHS = frozenset({LIVE_PATH, ASYNCAPI_PATH, STATIC_PREFIX, *PAGES})
"""Routes outside the REST contract: the console WebSocket (in the AsyncAPI document) and the
web pages."""


def setup_routes(app: web.Application, operations: list[Operation]) -> None:
    for operation in operations:
        app.router.add_route(operation.method, operation.path, bind(operation))
    app.router.add_get("/api/openapi.json", openapi_handler(operations))
    app.router.add_get(ASYNCAPI_PATH, asyncapi_handler())
    app.router.add_get(LIVE_PATH, live_socket)
    app.on_shutdown.append(close_console_sockets)
    setup_pages(app)
