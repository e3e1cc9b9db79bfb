"""Personal data is kept only as long as the institution needs it.

`purge_expired` removes, for every attempt that ended more than its exam's retention
(`exams.retention_days`, else the server's `PROCTOR_RETENTION_DAYS`) ago: its recordings and
evidence snapshots (files), their rows, and marks the attempt purged; the attempt itself, its
answers, score and alerts (text) stay for the exam's records. A candidate's face descriptor
goes once it is older than the server's retention and none of their attempts is active or
still within its retention. The server runs it every hour (`server.retention_context`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.blobs import BlobStore, reference_key
from storage.models import Alert, Exam, ExamSession, Recording, ReferenceFace, SessionStatus

logger = logging.getLogger(__name__)

__all__ = ["PurgeReport", "evidence_prefix", "purge_expired"]


def evidence_prefix(session_id: int) -> str:
    return f"evidence/{session_id}"


@dataclass(slots=True)
class PurgeReport:
    sessions: list[int] = field(default_factory=list)
    """Attempts whose recordings and evidence were removed."""
    files: int = 0
    descriptors: int = 0
    """Candidates whose face descriptor and reference crop were removed."""


async def purge_expired(
    db: async_sessionmaker[AsyncSession], blobs: BlobStore, default_days: int, now: datetime
) -> PurgeReport:
    report = PurgeReport()
    async with db() as session:
        ended = await session.execute(
            select(ExamSession.id, ExamSession.ended_at, Exam.retention_days)
            .join(Exam, Exam.id == ExamSession.exam_id)
            .where(
                ExamSession.status != SessionStatus.ACTIVE.value,
                ExamSession.ended_at.is_not(None),
                ExamSession.purged_at.is_(None),
            )
        )
        due = [
            session_id
            for session_id, ended_at, days in ended
            if ended_at is not None and ended_at + timedelta(days=days or default_days) <= now
        ]
    for session_id in due:
        try:
            files = await blobs.delete_prefix(f"recordings/{session_id}")
            files += await blobs.delete_prefix(evidence_prefix(session_id))
        except OSError:
            logger.exception("session %s: its files could not be purged; next run", session_id)
            continue
        async with db() as session:
            await session.execute(delete(Recording).where(Recording.session_id == session_id))
            await session.execute(
                update(Alert).where(Alert.session_id == session_id).values(evidence_file=None)
            )
            await session.execute(
                update(ExamSession).where(ExamSession.id == session_id).values(purged_at=now)
            )
            await session.commit()
        report.sessions.append(session_id)
        report.files += files
    report.descriptors = await _purge_faces(db, blobs, default_days, now)
    return report


async def _purge_faces(
    db: async_sessionmaker[AsyncSession], blobs: BlobStore, default_days: int, now: datetime
) -> int:
    """Face descriptors and reference crops no attempt needs any more; how many."""
    # An attempt not purged yet (active ones included) still needs the descriptor.
    still_needed = exists().where(
        ExamSession.candidate_id == ReferenceFace.user_id, ExamSession.purged_at.is_(None)
    )
    async with db() as session:
        users = list(
            (
                await session.execute(
                    select(ReferenceFace.user_id).where(
                        ReferenceFace.created_at <= now - timedelta(days=default_days),
                        ~still_needed,
                    )
                )
            ).scalars()
        )
    purged = 0
    for user_id in users:
        try:
            await blobs.delete_prefix(reference_key(user_id))
        except OSError:
            logger.exception("user %s: the reference crop could not be purged; next run", user_id)
            continue
        async with db() as session:
            await session.execute(delete(ReferenceFace).where(ReferenceFace.user_id == user_id))
            await session.commit()
        purged += 1
    return purged
