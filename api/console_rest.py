"""The console's REST operations: the overview, thumbnails, messages to a candidate and the
proctors' live video.

    GET  /api/exams/{exam_id}/overview           the console's snapshot over REST
    GET  /api/sessions/{session_id}/thumbnail    JPEG of the latest analysed frame
    POST /api/sessions/{session_id}/message      {text} -> the candidate's data channel
    POST /api/sessions/{session_id}/watch        {sdp, type} -> answer with the live video
"""

from __future__ import annotations

from aiohttp import web

from api.access import load_exam, load_session
from api.attempts import expire_if_due
from api.audit import AuditAction, record
from api.console_view import exam_snapshot
from api.errors import ApiError, conflict
from api.operation import Call
from api.schemas import ConsoleSnapshot, MessageBody, MessageOut, OfferBody, OverviewQuery
from live.messages import ProctorMessage
from live.protocol import SendToPage, Thumbnail, Watch, WatchAnswer
from storage.models import ExamSession, utcnow

__all__ = ["overview", "send_message", "thumbnail", "watch"]


async def overview(call: Call) -> ConsoleSnapshot:
    exam_id = call.path_int("exam_id")
    async with call.services.db() as db:
        await load_exam(db, call.caller, exam_id)
    query: OverviewQuery = call.query
    return await exam_snapshot(call.services, exam_id, everyone=query.status == "all")


async def _staff_session(call: Call, *, active: bool = False) -> ExamSession:
    session_id = call.path_int("session_id")
    async with call.services.db() as db:
        session = await load_session(db, call.caller, session_id)
        await expire_if_due(call.services, db, session)
    if active and session.status != "active":
        raise conflict("session_closed", f"this attempt is {session.status}")
    return session


async def thumbnail(call: Call) -> web.StreamResponse:
    session = await _staff_session(call)
    jpeg = (await call.services.pipeline.ask(Thumbnail(session_id=session.id))).jpeg
    if jpeg is None:
        raise ApiError(404, "no_frame", f"no frame of session {session.id} has been analysed yet")
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )


async def send_message(call: Call) -> MessageOut:
    body: MessageBody = call.body
    session = await _staff_session(call, active=True)
    pipeline = call.services.pipeline
    message = ProctorMessage(
        session_id=session.id,
        text=body.text,
        sender=call.caller.full_name or call.caller.username,
        at=utcnow(),
    )
    if not (await pipeline.ask(SendToPage(message=message))).delivered:
        raise conflict("not_connected", "the candidate is not connected: the message was not sent")
    async with call.services.db() as db:
        record(
            db,
            call.caller,
            AuditAction.MESSAGED,
            exam_id=session.exam_id,
            session_id=session.id,
            text=body.text,
        )
        await db.commit()
    return MessageOut(session_id=session.id, delivered=True, at=message.at)


async def watch(call: Call) -> WatchAnswer:
    body: OfferBody = call.body
    session = await _staff_session(call, active=True)
    answer = await call.services.pipeline.ask(
        Watch(session_id=session.id, sdp=body.sdp, type=body.type)
    )
    async with call.services.db() as db:
        record(
            db,
            call.caller,
            AuditAction.WATCHED_LIVE,
            exam_id=session.exam_id,
            session_id=session.id,
        )
        await db.commit()
    return answer
