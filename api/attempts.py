"""Exam sessions (attempts): start, read, autosave answers, submit, terminate.

The server owns the clock: an attempt's deadline is its start plus the exam's duration, and
answers arriving more than `SUBMIT_GRACE` after it are refused. An attempt past its deadline
is closed as `expired` and graded on the answers saved so far, so nothing saved is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.access import is_enrolled, load_session, visible_sessions
from api.audit import AuditAction, record
from api.consent import require_consent
from api.errors import conflict, not_found, unprocessable
from api.grading import award, grade
from api.operation import Call
from api.schemas import (
    AnswerIn,
    AnswersBody,
    SavedOut,
    SessionList,
    SessionOut,
    SessionQuery,
    SubmitBody,
    SubmitOut,
)
from api.services import Services
from storage.db import SWEEP_LOCK, only_one_node
from storage.models import Answer, Exam, ExamSession, Role, SessionStatus, User, utcnow

SUBMIT_GRACE = timedelta(seconds=30)
"""Network slack after the deadline within which a submit still counts."""


def session_out(session: ExamSession, now: datetime | None = None) -> SessionOut:
    now = now or utcnow()
    left = (session.deadline_at - now).total_seconds() if session.status == "active" else 0.0
    return SessionOut(
        session_id=session.id,
        exam_id=session.exam_id,
        candidate_id=session.candidate_id,
        status=session.status,  # type: ignore[arg-type]
        started_at=session.started_at,
        deadline_at=session.deadline_at,
        ended_at=session.ended_at,
        seconds_left=max(0.0, left),
        risk_score=session.risk_score,
        score=session.score,
        max_score=session.max_score,
    )


async def close_session(
    services: Services,
    db: AsyncSession,
    session: ExamSession,
    status: SessionStatus,
    by: User | None = None,
) -> None:
    """Grade the saved answers, close the attempt and commit, then hang up its live session.

    The live pipeline hears of it only after the commit: its "ended" event makes every console
    re-read the session, which must already say how it ended."""
    exam = await db.get(Exam, session.exam_id)
    assert exam is not None
    rows = await db.execute(
        select(Answer.question_id, Answer.answer).where(Answer.session_id == session.id)
    )
    answers = {question_id: answer for question_id, answer in rows}
    session.score, session.max_score = grade(exam.questions, answers)
    session.status = status.value
    session.ended_at = utcnow()
    if by is not None:
        record(db, by, AuditAction.TERMINATED, exam_id=session.exam_id, session_id=session.id)
    await db.commit()
    if services.live is not None:
        services.live.session_closed(session.id)


async def expire_if_due(services: Services, db: AsyncSession, session: ExamSession) -> bool:
    if session.status == "active" and utcnow() > session.deadline_at + SUBMIT_GRACE:
        await close_session(services, db, session, SessionStatus.EXPIRED)
        return True
    return False


async def start_session(call: Call) -> SessionOut:
    exam_id = call.path_int("exam_id")
    user = call.caller
    async with call.services.db() as db:
        exam = await db.get(Exam, exam_id)
        if exam is None or not await is_enrolled(db, user, exam_id, Role.CANDIDATE):
            raise not_found(f"exam {exam_id}")
        await require_consent(db, user, call.services.settings)
        active = (
            await db.execute(
                select(ExamSession).where(
                    ExamSession.exam_id == exam_id,
                    ExamSession.candidate_id == user.id,
                    ExamSession.status == "active",
                )
            )
        ).scalar_one_or_none()
        if active is not None and not await expire_if_due(call.services, db, active):
            raise conflict(
                "attempt_active",
                f"you already have an active attempt at this exam (session {active.id})",
            )
        now = utcnow()
        session = ExamSession(
            exam_id=exam_id,
            candidate_id=user.id,
            started_at=now,
            deadline_at=now + timedelta(minutes=exam.duration_minutes),
        )
        db.add(session)
        try:
            await db.commit()
        except IntegrityError:  # a concurrent start won the race; the unique index held
            await db.rollback()
            raise conflict("attempt_active", "you already have an active attempt") from None
        return session_out(session, now)


async def list_sessions(call: Call) -> SessionList:
    query: SessionQuery = call.query
    statement = visible_sessions(call.caller).order_by(ExamSession.id.desc())
    if query.exam_id is not None:
        statement = statement.where(ExamSession.exam_id == query.exam_id)
    if query.status is not None:
        statement = statement.where(ExamSession.status == query.status)
    async with call.services.db() as db:
        sessions = list((await db.execute(statement)).scalars())
        for session in sessions:
            await expire_if_due(call.services, db, session)
        return SessionList(sessions=[session_out(s) for s in sessions])


async def get_session(call: Call) -> SessionOut:
    async with call.services.db() as db:
        session = await load_session(db, call.caller, call.path_int("session_id"))
        await expire_if_due(call.services, db, session)
        return session_out(session)


async def _own_active_session(
    call: Call, db: AsyncSession, session_id: int, user: User
) -> tuple[ExamSession, Exam]:
    session = await load_session(db, user, session_id)
    if session.candidate_id != user.id:
        raise not_found(f"session {session_id}")
    if await expire_if_due(call.services, db, session):
        raise conflict("deadline_passed", "the time for this attempt is over; saved answers count")
    if session.status != "active":
        raise conflict("session_closed", f"this attempt is already {session.status}")
    exam = await db.get(Exam, session.exam_id)
    assert exam is not None
    return session, exam


async def _save_answers(
    db: AsyncSession, session: ExamSession, exam: Exam, answers: list[AnswerIn]
) -> int:
    questions = {q.id: q for q in exam.questions}
    unknown = [str(a.question_id) for a in answers if a.question_id not in questions]
    if unknown:
        raise unprocessable("unknown_question", f"questions not in this exam: {', '.join(unknown)}")
    saved = {
        a.question_id: a
        for a in (await db.execute(select(Answer).where(Answer.session_id == session.id))).scalars()
    }
    # One question twice in one save: the later answer is the one meant (one row each).
    latest = {given.question_id: given for given in answers}
    for given in latest.values():
        points = award(questions[given.question_id], given.answer)
        row = saved.get(given.question_id)
        if row is None:
            db.add(
                Answer(
                    session_id=session.id,
                    question_id=given.question_id,
                    answer=given.answer,
                    points_awarded=points,
                )
            )
        else:
            row.answer, row.points_awarded = given.answer, points
    await db.flush()
    return len(answers)


async def save_answers(call: Call) -> SavedOut:
    body: AnswersBody = call.body
    session_id = call.path_int("session_id")
    async with call.services.db() as db:
        session, exam = await _own_active_session(call, db, session_id, call.caller)
        saved = await _save_answers(db, session, exam, body.answers)
        await db.commit()
    return SavedOut(session_id=session_id, saved=saved)


async def submit(call: Call) -> SubmitOut:
    body: SubmitBody = call.body
    async with call.services.db() as db:
        session, exam = await _own_active_session(call, db, body.session_id, call.caller)
        await _save_answers(db, session, exam, body.answers)
        await close_session(call.services, db, session, SessionStatus.SUBMITTED)
    shown = exam.show_score
    return SubmitOut(
        session_id=session.id,
        status=session.status,
        score=session.score if shown else None,
        max_score=session.max_score if shown else None,
    )


async def terminate_session(call: Call) -> SessionOut:
    session_id = call.path_int("session_id")
    async with call.services.db() as db:
        session = await load_session(db, call.caller, session_id)
        if await expire_if_due(call.services, db, session) or session.status != "active":
            raise conflict("session_closed", f"this attempt is already {session.status}")
        await close_session(call.services, db, session, SessionStatus.TERMINATED, call.caller)
        return session_out(session)


async def expire_overdue(services: Services) -> int:
    """Close every active attempt past its deadline (graded on saved answers, peer hung up);
    with several nodes, on one of them at a time."""
    async with services.db() as db:
        if not await only_one_node(db, SWEEP_LOCK):
            return 0
        overdue = (
            await db.execute(
                select(ExamSession).where(
                    ExamSession.status == "active",
                    ExamSession.deadline_at < utcnow() - SUBMIT_GRACE,
                )
            )
        ).scalars()
        closed = 0
        for session in overdue:
            closed += await expire_if_due(services, db, session)
    return closed
