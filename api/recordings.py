"""An attempt's recordings for those who may review it.

    GET /api/sessions/{session_id}/recording          the tracks, their time 0 and URLs;
                                                       sets the recording pass (cookie)
    GET /api/sessions/{session_id}/recording/camera   the WebM, with range requests
    GET /api/sessions/{session_id}/recording/screen

Only staff who may see the attempt get them (a proctor of its exam, an admin); to a
candidate, their own attempt's recording does not exist (404), as to any other stranger.
A video element cannot send the bearer header, so the first answer sets a pass
(`auth.media`) in a cookie scoped to this attempt's recording URLs. The files are personal
data: `Cache-Control: private, no-store`, never kept by a shared cache.
"""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from api.access import load_session
from api.attempts import expire_if_due
from api.audit import AuditAction, record
from api.errors import ApiError, not_found
from api.operation import Call
from api.schemas_review import RecordingOut, RecordingTrackOut
from auth.media import MEDIA_COOKIE
from live.recording import finalise_recording
from storage.models import ExamSession, Recording, RecordingStatus, Role, utcnow
from storage.recordings import recording_key

__all__ = ["camera_file", "recording", "screen_file"]

FINALISE_GRACE = timedelta(seconds=30)
"""An ended attempt's live worker merges its recording within seconds; one still not merged
this long after (its process was stopped or died) is merged here, on first request."""
CHUNK_BYTES = 256 * 1024
PRIVATE = "private, no-store"


def recording_path(session_id: int, track: str) -> str:
    return f"/api/sessions/{session_id}/recording/{track}"


async def _reviewable(call: Call) -> ExamSession:
    session_id = call.path_int("session_id")
    if call.caller.role == Role.CANDIDATE:
        raise not_found(f"recording of session {session_id}")
    async with call.services.db() as db:
        session = await load_session(db, call.caller, session_id)
        await expire_if_due(call.services, db, session)
    return session


async def recording(call: Call) -> web.StreamResponse:
    session = await _reviewable(call)
    services = call.services
    async with services.db() as db:
        rows = list(
            (
                await db.execute(
                    select(Recording)
                    .where(Recording.session_id == session.id)
                    .order_by(Recording.track)
                )
            ).scalars()
        )
    ended = session.ended_at
    if ended is not None and utcnow() - ended > FINALISE_GRACE:
        for index, row in enumerate(rows):
            if row.status != RecordingStatus.READY:
                merged = await finalise_recording(
                    services.db, services.blobs, session.id, row.track
                )
                rows[index] = merged or row
    async with services.db() as db:
        record(
            db,
            call.caller,
            AuditAction.PLAYED_RECORDING,
            exam_id=session.exam_id,
            session_id=session.id,
        )
        await db.commit()
    passes = services.media_passes
    answer = RecordingOut(
        session_id=session.id,
        tracks=[
            RecordingTrackOut(
                track=row.track,  # type: ignore[arg-type]
                status=row.status,  # type: ignore[arg-type]
                started_at=row.started_at,
                duration_s=row.duration_s,
                size_bytes=row.size_bytes,
                url=recording_path(session.id, row.track)
                if row.status == RecordingStatus.READY
                else None,
            )
            for row in rows
        ],
        pass_expires_in=passes.ttl_seconds,
    )
    response = web.json_response(answer.model_dump(mode="json"))
    response.headers["Cache-Control"] = PRIVATE
    response.set_cookie(
        MEDIA_COOKIE,
        passes.issue(call.caller.id, call.caller.role, session.id),
        max_age=passes.ttl_seconds,
        path=recording_path(session.id, ""),
        httponly=True,
        samesite="Strict",
        secure=call.request.secure,
    )
    return response


async def camera_file(call: Call) -> web.StreamResponse:
    return await _serve(call, "camera")


async def screen_file(call: Call) -> web.StreamResponse:
    return await _serve(call, "screen")


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `Range: bytes=...` within `size`; None to send the
    whole file (no header, or one we do not read: several ranges, another unit, bad
    syntax, all of which RFC 9110 lets a server ignore). 416 when nothing of it exists."""
    match = _RANGE.match((header or "").strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0:
            raise _unsatisfiable(size)
        return max(0, size - count), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> ApiError:
    error = ApiError(416, "range_not_satisfiable", f"the recording has {size} bytes")
    error.headers["Content-Range"] = f"bytes */{size}"
    return error


async def _serve(call: Call, track: str) -> web.StreamResponse:
    session = await _reviewable(call)
    blobs = call.services.blobs
    key = recording_key(session.id, track)
    size = await blobs.size(key)
    if size is None:
        raise not_found(f"a finished {track} recording of session {session.id}")
    wanted = byte_range(call.request.headers.get("Range"), size)
    first, last = wanted if wanted is not None else (0, size - 1)
    response = web.StreamResponse(status=200 if wanted is None else 206)
    response.headers.update(
        {
            "Content-Type": "video/webm",
            "Accept-Ranges": "bytes",
            "Cache-Control": PRIVATE,
            "Content-Length": str(last - first + 1),
        }
    )
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    await response.prepare(call.request)
    position = first
    while position <= last:
        chunk = await blobs.read_range(key, position, min(CHUNK_BYTES, last - position + 1))
        if not chunk:
            break  # the file shrank under us (replaced); the client sees a short body
        await response.write(chunk)
        position += len(chunk)
    await response.write_eof()
    return response
