"""Writing incidents and keeping each session's risk score in step with its alerts."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from alerts.events import AlertEvent
from alerts.risk import risk_score
from storage.models import Alert, ExamSession
from storage.ownership import Fenced

_SCORED = (Alert.kind, Alert.severity, Alert.started_at, Alert.ended_at, Alert.review_status)
"""The columns the risk score reads."""


def upsert_alert(
    db: Session,
    event: AlertEvent,
    *,
    session_id: int,
    exam_id: int,
    started_at: datetime,
    ended_at: datetime | None,
    evidence_file: str | None,
    fence: int | None = None,
) -> int:
    """One row per incident: the started event inserts it, later events update it; commits
    and returns the row id. Synchronous, so the whole transaction can run in one thread
    (`AlertWriter`): SQLite has one write lock for the whole database, shared by every
    process, and a transaction that went back to a busy event loop between statements held
    it for as long as the loop ran late. Everything is read before the first write.

    With `fence`, the write is refused (`Fenced`, nothing kept) unless the attempt's fencing
    number is still that one (`storage.ownership`)."""
    others = [
        row
        for row in db.execute(
            select(Alert.incident_id, *_SCORED).where(Alert.session_id == session_id)
        ).all()
        if row.incident_id != event.incident_id
    ]
    alert = db.execute(
        select(Alert).where(Alert.incident_id == event.incident_id)
    ).scalar_one_or_none()
    if alert is None:
        alert = Alert(
            incident_id=event.incident_id,
            session_id=session_id,
            exam_id=exam_id,
            kind=str(event.kind),
            started_at=started_at,
        )
        db.add(alert)
    alert.severity = str(event.severity)
    alert.state = str(event.state)
    alert.ended_at = ended_at
    alert.message = event.message
    alert.confidence = event.confidence
    if evidence_file and not alert.evidence_file:
        alert.evidence_file = evidence_file
    score = risk_score([*others, alert])
    holds = ExamSession.id == session_id
    if fence is not None:
        holds &= ExamSession.live_fence == fence
    result = db.execute(update(ExamSession).where(holds).values(risk_score=score))
    if fence is not None and not result.rowcount:  # type: ignore[attr-defined]
        db.rollback()
        raise Fenced(session_id, fence)
    db.commit()
    return alert.id


async def refresh_risk_score(db: AsyncSession, session_id: int) -> float:
    # Only the columns the score reads: a long exam has thousands of alerts, and loading
    # them as ORM objects on every write cost more than the write.
    alerts = (await db.execute(select(*_SCORED).where(Alert.session_id == session_id))).all()
    session = await db.get(ExamSession, session_id)
    assert session is not None
    session.risk_score = risk_score(alerts)
    return session.risk_score


INTERRUPTED = "monitoring interrupted"


async def end_interrupted(
    db: AsyncSession, session_ids: Collection[int], at: datetime
) -> dict[int, int]:
    """End the open incidents of sessions whose live pipeline died without ending them (a
    live worker killed): nothing will observe their end, and left open they would show as
    open on every console for good. Ends them at `at`, says so in the message, refreshes
    the risk scores and commits. Returns {session id: exam id} of the sessions touched."""
    if not session_ids:
        return {}
    open_alerts = (
        await db.execute(
            select(Alert).where(Alert.session_id.in_(session_ids), Alert.state != "ended")
        )
    ).scalars()
    touched: dict[int, int] = {}
    for alert in open_alerts:
        alert.state = "ended"
        alert.ended_at = max(at, alert.started_at)
        alert.message = f"{alert.message} ({INTERRUPTED})"
        touched[alert.session_id] = alert.exam_id
    await db.flush()
    for session_id in touched:
        await refresh_risk_score(db, session_id)
    await db.commit()
    return touched


async def end_stale_incidents(
    db: AsyncSession, at: datetime, node: str | None = None
) -> dict[int, int]:
    """At start-up: an incident still open was left by a run that died without ending it
    (kill -9, power loss). End them as interrupted (`end_interrupted`): all of them on a
    single server, the attempts `node` held in a cluster (the others' are theirs)."""
    query = select(Alert.session_id).where(Alert.state != "ended").distinct()
    if node is not None:
        held = select(ExamSession.id).where(ExamSession.live_node == node)
        query = query.where(Alert.session_id.in_(held))
    return await end_interrupted(db, list((await db.execute(query)).scalars()), at)


async def take_over(db: AsyncSession, node: str, at: datetime) -> dict[int, int]:
    """`node` is dead: fence it out of the attempts it held (they go to whichever node their
    candidates reconnect to) and end their open incidents as interrupted. Returns
    {session id: exam id} of every attempt it held."""
    rows = (
        await db.execute(
            update(ExamSession)
            .where(ExamSession.live_node == node)
            .values(live_node=None, live_fence=ExamSession.live_fence + 1)
            .returning(ExamSession.id, ExamSession.exam_id)
        )
    ).all()
    await db.commit()
    held = {int(row.id): int(row.exam_id) for row in rows}
    await end_interrupted(db, list(held), at)
    return held
