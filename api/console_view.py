"""The console's read model: how an attempt looks on a proctor's screen (`ConsoleSession`),
and the snapshot of an exam's attempts that a console starts from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from api.alert_history import alert_out
from api.attempts import expire_if_due
from api.schemas import ConsoleSession, ConsoleSnapshot
from api.services import Services
from live.protocol import LiveState, States
from storage.models import Alert, ExamSession, User

__all__ = ["active_session_ids", "exam_snapshot", "session_entries", "session_entry"]


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
    states: dict[int, LiveState] = {}
    if services.live is not None:
        states = (await services.live.ask(States(session_ids=ids))).states
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


async def session_entry(services: Services, exam_id: int, session_id: int) -> ConsoleSession | None:
    """One attempt of the exam as the console shows it; None if it is not the exam's."""
    async with services.db() as db:
        session = await db.get(ExamSession, session_id)
    if session is None or session.exam_id != exam_id:
        return None
    return (await session_entries(services, [session]))[0]


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


async def active_session_ids(services: Services, exam_id: int) -> set[int]:
    async with services.db() as db:
        rows = await db.execute(
            select(ExamSession.id).where(
                ExamSession.exam_id == exam_id, ExamSession.status == "active"
            )
        )
        return set(rows.scalars())
