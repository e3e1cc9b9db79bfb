"""What is held about one candidate, for an admin to hand over or erase.

    GET    /api/users/{user_id}/export   a zip: candidate.json (account, consents, face
                                         descriptor, enrolments, attempts with answers,
                                         alerts and recordings, audit entries about them)
                                         and media/ (evidence snapshots, recordings)
    DELETE /api/users/{user_id}          rows and files; the answer says what is left

Both are audited in the same transaction (`api.audit`). Files are deleted before the rows,
so a failure part-way leaves the candidate there to delete again, never files nobody can
find; anything that could not be deleted is named in the answer.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import AuditAction, record
from api.errors import conflict, not_found
from api.operation import Call
from api.schemas_review import DeletionOut
from storage.blobs import BlobStore, reference_key
from storage.models import (
    Alert,
    Answer,
    AuditEntry,
    Base,
    Consent,
    Enrolment,
    ExamSession,
    Recording,
    ReferenceFace,
    Role,
    SessionStatus,
    User,
    utcnow,
)
from storage.retention import evidence_prefix

__all__ = ["delete_candidate", "export_candidate"]

CHUNK_BYTES = 1024 * 1024


async def _candidate(db: AsyncSession, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None or user.role != Role.CANDIDATE:
        raise not_found(f"candidate {user_id}")
    return user


def _columns(row: Base, *skip: str) -> dict[str, Any]:
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key not in skip
    }


async def _rows(db: AsyncSession, model: type[Base], *where: Any) -> list[Any]:
    return list((await db.execute(select(model).where(*where))).scalars())


def _media_prefixes(user_id: int, session_ids: list[int]) -> list[str]:
    """Where the candidate's files are: the reference crop, each attempt's media."""
    attempts = [p for sid in session_ids for p in (f"recordings/{sid}", evidence_prefix(sid))]
    return [reference_key(user_id), *attempts]


async def _held_about(db: AsyncSession, user: User) -> dict[str, Any]:
    sessions = await _rows(db, ExamSession, ExamSession.candidate_id == user.id)
    ids = [s.id for s in sessions]
    face = (await _rows(db, ReferenceFace, ReferenceFace.user_id == user.id)) or [None]
    audit = await _rows(
        db,
        AuditEntry,
        or_(AuditEntry.subject_id == user.id, AuditEntry.session_id.in_(ids)),
    )
    attempts = []
    for session in sessions:
        attempts.append(
            {
                **_columns(session),
                "answers": [
                    _columns(a) for a in await _rows(db, Answer, Answer.session_id == session.id)
                ],
                "alerts": [
                    _columns(a) for a in await _rows(db, Alert, Alert.session_id == session.id)
                ],
                "recordings": [
                    _columns(r)
                    for r in await _rows(db, Recording, Recording.session_id == session.id)
                ],
            }
        )
    return {
        "exported_at": utcnow(),
        "account": _columns(user, "password_hash"),
        "consents": [_columns(c) for c in await _rows(db, Consent, Consent.user_id == user.id)],
        "reference_face": None
        if face[0] is None
        else {
            "enrolled_at": face[0].created_at,
            "descriptor": np.frombuffer(face[0].descriptor, np.float32).tolist(),
        },
        "enrolments": [
            _columns(e) for e in await _rows(db, Enrolment, Enrolment.user_id == user.id)
        ],
        "attempts": attempts,
        "audit": [_columns(a) for a in audit],
    }


async def export_candidate(call: Call) -> web.StreamResponse:
    user_id = call.path_int("user_id")
    services = call.services
    async with services.db() as db:
        user = await _candidate(db, user_id)
        held = await _held_about(db, user)
        record(db, call.caller, AuditAction.EXPORTED, subject_id=user.id)
        await db.commit()
    session_ids = [attempt["id"] for attempt in held["attempts"]]
    with tempfile.TemporaryDirectory(prefix="proctor-export-") as scratch:
        path = Path(scratch) / "export.zip"
        prefixes = _media_prefixes(user_id, session_ids)
        await _write_zip(path, held, services.blobs, prefixes)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="candidate-{user_id}.zip"',
                "Cache-Control": "private, no-store",
                "Content-Length": str(path.stat().st_size),
            }
        )
        await response.prepare(call.request)
        with path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                await response.write(chunk)
        await response.write_eof()
    return response


async def _write_zip(
    path: Path, held: dict[str, Any], blobs: BlobStore, prefixes: list[str]
) -> None:
    text = json.dumps(held, default=str, indent=2)
    archive = await asyncio.to_thread(zipfile.ZipFile, path, "w")
    try:
        await asyncio.to_thread(
            archive.writestr, "candidate.json", text, compress_type=zipfile.ZIP_DEFLATED
        )
        for prefix in prefixes:
            found = [prefix] if await blobs.size(prefix) is not None else []
            for key in found + await blobs.keys(prefix):
                member = await asyncio.to_thread(archive.open, f"media/{key}", "w")
                try:
                    position = 0
                    while chunk := await blobs.read_range(key, position, CHUNK_BYTES):
                        await asyncio.to_thread(member.write, chunk)
                        position += len(chunk)
                finally:
                    await asyncio.to_thread(member.close)
    finally:
        await asyncio.to_thread(archive.close)


_DELETED_IN_ORDER: tuple[tuple[str, type[Base], str], ...] = (
    ("answers", Answer, "session"),
    ("alerts", Alert, "session"),
    ("recordings", Recording, "session"),
    ("exam_sessions", ExamSession, "candidate"),
    ("consents", Consent, "user"),
    ("reference_faces", ReferenceFace, "user"),
    ("enrolments", Enrolment, "user"),
    ("users", User, "id"),
)


async def delete_candidate(call: Call) -> DeletionOut:
    user_id = call.path_int("user_id")
    services = call.services
    async with services.db() as db:
        user = await _candidate(db, user_id)
        sessions = await _rows(db, ExamSession, ExamSession.candidate_id == user.id)
        if any(s.status == SessionStatus.ACTIVE for s in sessions):
            raise conflict("attempt_active", "the candidate is taking an exam: end it first")
    session_ids = [s.id for s in sessions]
    not_deleted: list[str] = []
    files = 0
    for prefix in _media_prefixes(user_id, session_ids):
        try:
            files += await services.blobs.delete_prefix(prefix)
        except OSError as error:
            not_deleted.append(f"files under {prefix}: {error.strerror or error}")
    rows: dict[str, int] = {}
    async with services.db() as db:
        for table, model, key in _DELETED_IN_ORDER:
            column = {
                "session": getattr(model, "session_id", None),
                "candidate": ExamSession.candidate_id,
                "user": getattr(model, "user_id", None),
                "id": User.id,
            }[key]
            target = session_ids if key == "session" else [user_id]
            result = await db.execute(delete(model).where(column.in_(target)))  # type: ignore[union-attr]
            rows[table] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        kept = (
            await db.execute(
                select(func.count()).where(
                    or_(AuditEntry.subject_id == user_id, AuditEntry.session_id.in_(session_ids))
                )
            )
        ).scalar_one()
        record(db, call.caller, AuditAction.DELETED, subject_id=user_id, rows=rows, files=files)
        await db.commit()
    if kept:
        not_deleted.append(
            f"{kept} audit log entries about this candidate: they record what staff did, and "
            "name the candidate by number only"
        )
    not_deleted.append("copies made outside this server (backups, exports downloaded before)")
    return DeletionOut(
        user_id=user_id, rows_deleted=rows, files_deleted=files, not_deleted=not_deleted
    )
