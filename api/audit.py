"""The audit log of staff actions, readable by admins (`GET /api/audit`).

`record` adds the entry to the caller's database session; it commits with the action it
describes, in the same transaction, so there is never an action without its entry nor an
entry for an action that was rolled back. Actions that are not database writes (watching
live, a message over the data channel, playing a recording) are entered when they succeed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.operation import Call
from api.schemas_review import AuditOut, AuditPage, AuditQuery
from storage.models import AuditEntry, User, utcnow
from storage.paging import page, where_given

__all__ = ["AuditAction", "list_audit", "record"]


class AuditAction(StrEnum):
    WATCHED_LIVE = "watched_live"
    PLAYED_RECORDING = "played_recording"
    REVIEWED_ALERT = "reviewed_alert"
    MESSAGED = "messaged"
    TERMINATED = "terminated"
    EXPORTED = "exported"
    DELETED = "deleted"
    CHANGED_ACCOUNT = "changed_account"


def record(
    db: AsyncSession,
    actor: User,
    action: AuditAction,
    *,
    exam_id: int | None = None,
    session_id: int | None = None,
    subject_id: int | None = None,
    **detail: Any,
) -> None:
    """Add the entry to `db`'s transaction (committed with the action)."""
    db.add(
        AuditEntry(
            at=utcnow(),
            actor_id=actor.id,
            actor=actor.username,
            action=action.value,
            exam_id=exam_id,
            session_id=session_id,
            subject_id=subject_id,
            detail=detail,
        )
    )


async def list_audit(call: Call) -> AuditPage:
    query: AuditQuery = call.query
    statement = where_given(
        select(AuditEntry),
        {
            AuditEntry.actor_id: query.actor_id,
            AuditEntry.action: query.action,
            AuditEntry.session_id: query.session_id,
            AuditEntry.subject_id: query.subject_id,
        },
    )
    async with call.services.db() as db:
        total, rows = await page(db, statement, [AuditEntry.id.desc()], query.limit, query.offset)
        entries = [AuditOut.model_validate(row, from_attributes=True) for row in rows]
    return AuditPage(entries=entries, total=total, limit=query.limit, offset=query.offset)
