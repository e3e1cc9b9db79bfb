"""The proctor console's server side: the live WebSocket of an exam, thumbnails, messages to
a candidate, full live video, and the two web pages.

    GET  /api/exams/{exam_id}/live?ticket=<t>   WebSocket (proctor of the exam, or admin);
                                                 the ticket from POST /api/ws-ticket
    GET  /api/exams/{exam_id}/overview           the same snapshot over REST
    GET  /api/sessions/{session_id}/thumbnail    JPEG of the latest analysed frame
    POST /api/sessions/{session_id}/message      {text} -> the candidate's data channel
    POST /api/sessions/{session_id}/watch        {sdp, type} -> answer with the live video

The WebSocket first sends a snapshot of the exam's active attempts, then streams:

    {"type": "session", "event": "started"|"connected"|"disconnected"|"ended"|"updated",
     "session": ConsoleSession}                   status and risk score changes
    {"type": "alert", ...}                        alert events (as on the data channel)
    {"type": "analysis", "session_id", ...}       overlays, only for the focused session
    {"type": "message", "session_id", ...}        a proctor's message to a candidate
    {"type": "snapshot", ...}                     again, after a gap or when attempts change
    {"type": "closed", "error": {code, message}}  the caller may no longer watch (account
                                                  disabled, role or assignment changed); the
                                                  socket then closes with 4000 + HTTP status

and accepts `{"type": "focus", "session_id": id | null}` (whose overlays to stream) and
`{"type": "snapshot"}` (send a fresh snapshot).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import func, select

from alerts.bus import Subscription
from api.access import current_user, load_exam, load_session, socket_user
from api.alert_history import alert_out
from api.attempts import expire_if_due
from api.errors import ApiError, bad_request, conflict, forbidden
from api.operation import Call
from api.schemas import (
    ConsoleSession,
    ConsoleSnapshot,
    MessageBody,
    MessageOut,
    OfferBody,
    OverviewQuery,
    WatchOut,
)
from api.services import SERVICES, Services
from live.contract import LivePipeline, NotLive
from live.watch import ViewerLimitReached
from signaling.errors import InvalidOffer
from storage.models import Alert, ExamSession, Role, User, utcnow

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
LIVE_PATH = "/api/exams/{exam_id}/live"
PAGES = {"/": "index.html", "/exam": "index.html", "/proctor": "proctor.html"}
STATIC_PREFIX = "/static"
UNDOCUMENTED_PATHS = frozenset({LIVE_PATH, STATIC_PREFIX, *PAGES})
"""Routes outside the REST contract (the WebSocket and the web pages): not in OpenAPI."""

RESYNC_SECONDS = 5.0
"""How often a console's list of active attempts is checked against the database, for
changes no live event announces (an attempt started but not streaming, a deadline passed)."""
SOCKETS = "console_sockets"
STAFF = (Role.PROCTOR, Role.ADMIN)

_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
        "connect-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
}


def _live(services: Services) -> LivePipeline:
    if services.live is None:
        raise ApiError(503, "pipeline_unavailable", "the live pipeline is not running")
    return services.live


# --- snapshot -----------------------------------------------------------------------------


async def session_entries(services: Services, sessions: list[ExamSession]) -> list[ConsoleSession]:
    """The console's view of `sessions`: names, connection, risk, open alerts."""
    if not sessions:
        return []
    ids = [s.id for s in sessions]
    async with services.db() as db:
        users = {
            u.id: u
            for u in (
                await db.execute(
                    select(User).where(User.id.in_({s.candidate_id for s in sessions}))
                )
            ).scalars()
        }
        counted = await db.execute(
            select(Alert.session_id, func.count())
            .where(Alert.session_id.in_(ids))
            .group_by(Alert.session_id)
        )
        counts = {session_id: int(count) for session_id, count in counted}
        open_rows = (
            await db.execute(
                select(Alert)
                .where(Alert.session_id.in_(ids), Alert.state != "ended")
                .order_by(Alert.started_at)
            )
        ).scalars()
        open_alerts: dict[int, list[Any]] = {}
        for alert in open_rows:
            open_alerts.setdefault(alert.session_id, []).append(alert_out(alert))
    hub = services.live
    states = {} if hub is None else await hub.states(ids)
    entries = []
    for session in sessions:
        live = states.get(session.id)
        user = users.get(session.candidate_id)
        entries.append(
            ConsoleSession(
                session_id=session.id,
                exam_id=session.exam_id,
                candidate_id=session.candidate_id,
                username=user.username if user else f"user {session.candidate_id}",
                full_name=user.full_name if user else None,
                status=session.status,  # type: ignore[arg-type]
                started_at=session.started_at,
                deadline_at=session.deadline_at,
                ended_at=session.ended_at,
                connected=live is not None and live.connected,
                live=live is not None,
                viewers=0 if live is None else live.viewers,
                risk_score=session.risk_score,
                alert_count=counts.get(session.id, 0),
                open_alerts=open_alerts.get(session.id, []),
            )
        )
    return entries


async def exam_snapshot(
    services: Services, exam_id: int, *, everyone: bool = False
) -> ConsoleSnapshot:
    """The exam's active attempts (all attempts with `everyone`)."""
    statement = select(ExamSession).where(ExamSession.exam_id == exam_id)
    if not everyone:
        statement = statement.where(ExamSession.status == "active")
    async with services.db() as db:
        rows = list((await db.execute(statement.order_by(ExamSession.id))).scalars())
        for row in rows:
            await expire_if_due(services, db, row)
    if not everyone:
        rows = [row for row in rows if row.status == "active"]
    return ConsoleSnapshot(exam_id=exam_id, sessions=await session_entries(services, rows))


async def _active_ids(services: Services, exam_id: int) -> set[int]:
    async with services.db() as db:
        rows = await db.execute(
            select(ExamSession.id).where(
                ExamSession.exam_id == exam_id, ExamSession.status == "active"
            )
        )
        return set(rows.scalars())


async def _entry(services: Services, exam_id: int, session_id: int) -> ConsoleSession | None:
    async with services.db() as db:
        session = await db.get(ExamSession, session_id)
    if session is None or session.exam_id != exam_id:
        return None
    return (await session_entries(services, [session]))[0]


# --- REST operations ----------------------------------------------------------------------


async def overview(call: Call) -> ConsoleSnapshot:
    exam_id = call.path_int("exam_id")
    async with call.services.db() as db:
        await load_exam(db, call.caller, exam_id)
    query: OverviewQuery = call.query
    return await exam_snapshot(call.services, exam_id, everyone=query.status == "all")


async def _staff_session(call: Call) -> ExamSession:
    session_id = call.path_int("session_id")
    async with call.services.db() as db:
        session = await load_session(db, call.caller, session_id)
        await expire_if_due(call.services, db, session)
    return session


async def thumbnail(call: Call) -> web.StreamResponse:
    session = await _staff_session(call)
    jpeg = await _live(call.services).thumbnail(session.id)
    if jpeg is None:
        raise ApiError(404, "no_frame", f"no frame of session {session.id} has been analysed yet")
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )


async def send_message(call: Call) -> MessageOut:
    body: MessageBody = call.body
    session = await _staff_session(call)
    if session.status != "active":
        raise conflict("session_closed", f"this attempt is {session.status}")
    hub = _live(call.services)
    sender = call.caller.full_name or call.caller.username
    now = utcnow()
    message = {"type": "message", "text": body.text, "from": sender, "at": now.isoformat()}
    if not await hub.send_to_page(session.id, message):
        raise conflict("not_connected", "the candidate is not connected: the message was not sent")
    hub.bus.publish(session.exam_id, {**message, "session_id": session.id})
    return MessageOut(session_id=session.id, delivered=True, at=now)


async def watch(call: Call) -> WatchOut:
    body: OfferBody = call.body
    session = await _staff_session(call)
    if session.status != "active":
        raise conflict("session_closed", f"this attempt is {session.status}")
    try:
        return await _live(call.services).watch(session.id, body.sdp, body.type)
    except NotLive as error:
        raise conflict("not_live", str(error)) from None
    except InvalidOffer as error:
        raise bad_request("invalid_offer", str(error)) from None
    except ViewerLimitReached as error:
        raise conflict("viewer_limit", str(error)) from None


# --- the WebSocket ------------------------------------------------------------------------


async def live_socket(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    raw = request.match_info["exam_id"]
    try:
        exam_id = int(raw)
    except ValueError:
        raise bad_request("bad_path", f"exam_id must be an integer, got {raw!r}") from None
    user = await socket_user(request, services)
    if user.role not in STAFF:
        raise forbidden("this needs the role proctor or admin")
    async with services.db() as db:
        await load_exam(db, user, exam_id)
    hub = _live(services)
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await ws.prepare(request)
    sockets: set[web.WebSocketResponse] = services.extras.setdefault(SOCKETS, set())
    sockets.add(ws)
    console = _Console(services, hub, exam_id, ws, user)
    try:
        await console.run()
    except ConnectionResetError:
        pass  # the console went away mid-send
    finally:
        sockets.discard(ws)
        await ws.close()
    return ws


class _Console:
    """One open console: the bus subscription in, the socket out."""

    def __init__(
        self,
        services: Services,
        hub: LivePipeline,
        exam_id: int,
        ws: web.WebSocketResponse,
        user: User,
    ) -> None:
        self.services = services
        self.user = user
        self.hub = hub
        self.exam_id = exam_id
        self.ws = ws
        self.focus: int | None = None
        self.known: set[int] = set()
        self.snapshot_wanted = asyncio.Event()

    async def run(self) -> None:
        async with self.hub.bus.subscribe(self.exam_id) as messages:
            await self.send_snapshot()
            reader = asyncio.get_running_loop().create_task(self.read())
            try:
                await self.pump(messages)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def send_snapshot(self) -> None:
        snapshot = await exam_snapshot(self.services, self.exam_id)
        self.known = {s.session_id for s in snapshot.sessions}
        await self.ws.send_json(snapshot.model_dump(mode="json"))

    async def read(self) -> None:
        """The console's requests; ends (and so ends the pump) when the socket closes."""
        async for message in self.ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                request = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(request, dict):
                continue
            if request.get("type") == "focus":
                focus = request.get("session_id")
                self.focus = focus if isinstance(focus, int) else None
            elif request.get("type") == "snapshot":
                self.snapshot_wanted.set()
        self.snapshot_wanted.set()  # wake the pump, which sees the socket closed

    async def pump(self, messages: Subscription) -> None:
        loop = asyncio.get_running_loop()
        next_resync = loop.time() + RESYNC_SECONDS
        pending: asyncio.Task[Any] | None = None
        wanted: asyncio.Task[Any] | None = None
        try:
            while not self.ws.closed:
                if pending is None:
                    pending = loop.create_task(_next(messages))
                if wanted is None:
                    wanted = loop.create_task(self.snapshot_wanted.wait())
                timeout = max(0.0, next_resync - loop.time())
                done, _ = await asyncio.wait(
                    {pending, wanted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if self.ws.closed:
                    return
                if wanted in done:
                    wanted = None
                    self.snapshot_wanted.clear()
                    await self.send_snapshot()
                if pending in done:
                    message, pending = pending.result(), None
                    if message is None:
                        return  # the bus closed: server shutdown
                    await self.forward(message)
                if loop.time() >= next_resync:
                    next_resync = loop.time() + RESYNC_SECONDS
                    if not await self.still_allowed():
                        return
                    if await _active_ids(self.services, self.exam_id) != self.known:
                        await self.send_snapshot()
        finally:
            for task in (pending, wanted):
                if task is not None:
                    task.cancel()

    async def still_allowed(self) -> bool:
        """The checks made at connect, made again: a user disabled, demoted or removed, an
        exam no longer visible to them close the socket (code 4000 + the HTTP status the
        same request would get now), after a last message saying why."""
        try:
            user = await current_user(self.user.id, self.user.role, self.services)
            async with self.services.db() as db:
                await load_exam(db, user, self.exam_id)
        except ApiError as error:
            await self.ws.send_json(
                {"type": "closed", "error": {"code": error.code, "message": str(error)}}
            )
            await self.ws.close(code=4000 + error.status, message=error.code.encode())
            return False
        return True

    async def forward(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "analysis":
            if message.get("session_id") == self.focus:
                await self.ws.send_json(message)
        elif kind == "missed":
            await self.send_snapshot()  # some messages were dropped: start again from truth
        elif kind == "session":
            await self.send_session(int(message["session_id"]), str(message["event"]))
        elif kind == "alert":
            await self.ws.send_json(message)
            await self.send_session(int(message["session_id"]), "updated")  # new risk score
        else:
            await self.ws.send_json(message)

    async def send_session(self, session_id: int, event: str) -> None:
        entry = await _entry(self.services, self.exam_id, session_id)
        if entry is None:
            return
        if entry.status == "active":
            self.known.add(session_id)
        else:
            self.known.discard(session_id)
        await self.ws.send_json(
            {"type": "session", "event": event, "session": entry.model_dump(mode="json")}
        )


async def _next(messages: Subscription) -> dict[str, Any] | None:
    """The next bus message, or None once the bus has closed (server shutdown)."""
    return await anext(messages, None)


async def close_sockets(app: web.Application) -> None:
    """on_shutdown: consoles are told the server goes away before the pipeline stops."""
    sockets = app[SERVICES].extras.get(SOCKETS, set())
    await asyncio.gather(
        *(
            ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            for ws in list(sockets)
        ),
        return_exceptions=True,
    )


# --- the pages ----------------------------------------------------------------------------


def _page(name: str) -> Any:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WEB_DIR / name, headers=_PAGE_HEADERS)

    serve.__name__ = f"page_{name.split('.')[0]}"
    return serve


def setup_console_routes(app: web.Application) -> None:
    """The WebSocket and the web pages (the REST operations are in `api.routes`)."""
    app.router.add_get(LIVE_PATH, live_socket)
    for path, name in PAGES.items():
        app.router.add_get(path, _page(name))
    app.router.add_static(STATIC_PREFIX, WEB_DIR, append_version=False)
    app.on_shutdown.append(close_sockets)
