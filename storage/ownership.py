"""Which node holds each live attempt, with a fencing number.

A node takes an attempt (`claim`) when it opens the attempt's live session: the attempt's
`live_fence` goes up by one and the node keeps the new value. Every alert it stores carries
that number (`storage.alert_store.upsert_alert`); once another node has taken the attempt
(this one was partitioned, or presumed dead and replaced) the numbers differ and the write
is refused, so a node that lost an attempt can no longer store, and so no longer send,
alerts for it (Kleppmann, "How to do distributed locking", 2016).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ExamSession

__all__ = ["Fenced", "claim", "holder", "release"]


class Fenced(Exception):
    """A write for an attempt this node no longer holds."""

    def __init__(self, session_id: int, fence: int) -> None:
        super().__init__(f"session {session_id}: fence {fence} is stale; another node holds it")
        self.session_id = session_id
        self.fence = fence


async def claim(db: AsyncSession, session_id: int, node: str) -> int:
    """Take the attempt for `node`; the new fencing number. Commits."""
    fence = (
        await db.execute(
            update(ExamSession)
            .where(ExamSession.id == session_id)
            .values(live_node=node, live_fence=ExamSession.live_fence + 1)
            .returning(ExamSession.live_fence)
        )
    ).scalar_one()
    await db.commit()
    return int(fence)


async def release(db: AsyncSession, session_id: int, node: str, fence: int) -> bool:
    """Let go of the attempt, unless it was taken since. Commits; True if released."""
    result = await db.execute(
        update(ExamSession)
        .where(
            ExamSession.id == session_id,
            ExamSession.live_node == node,
            ExamSession.live_fence == fence,
        )
        .values(live_node=None)
    )
    await db.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def holder(db: AsyncSession, session_id: int) -> tuple[str | None, int]:
    """(the node holding the attempt or None, its fencing number)."""
    row = (
        await db.execute(
            select(ExamSession.live_node, ExamSession.live_fence).where(
                ExamSession.id == session_id
            )
        )
    ).one()
    return row.live_node, int(row.live_fence)
