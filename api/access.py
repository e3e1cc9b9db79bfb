"""Who the caller is, and what they may see. One place for every ownership rule:

- a candidate sees their own sessions and alerts, and the exams they are enrolled in;
- a proctor sees the exams they are assigned to, and those exams' sessions and alerts;
- an admin sees everything.
Things the caller may not see answer 404, as if they did not exist.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import not_found, unauthorized
from api.services import Services
from auth.media import MEDIA_COOKIE
from auth.tokens import InvalidToken
from storage.models import Enrolment, Exam, ExamSession, Role, User


async def authenticate(request: web.Request, services: Services) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("send an access token: Authorization: Bearer <token>")
    return await user_from_token(token.strip(), services)


async def user_from_token(token: str, services: Services) -> User:
    """The user an access token stands for, by the same rules as the bearer header (a
    WebSocket, which cannot send headers from a browser, passes it in the query string)."""
    try:
        claims = services.tokens.verify(token)
    except InvalidToken as error:
        raise unauthorized(str(error)) from None
    async with services.db() as db:
        user = await db.get(User, claims.user_id)
    # The role in the token must still be the user's role: a demoted user's old token stops.
    if user is None or user.role != claims.role:
        raise unauthorized("the access token's user no longer exists or changed role")
    return user


async def media_pass_user(request: web.Request, services: Services, session_id: int) -> User:
    """Who holds the recording pass cookie for this attempt (`auth.media`), by the same
    rules as a token: the user still exists and still has the role."""
    token = request.cookies.get(MEDIA_COOKIE, "")
    if not token:
        raise unauthorized("send an access token (Authorization: Bearer) or a recording pass")
    try:
        holder = services.media_passes.verify(token, session_id)
    except InvalidToken as error:
        raise unauthorized(str(error)) from None
    async with services.db() as db:
        user = await db.get(User, holder.user_id)
    if user is None or user.role != holder.role:
        raise unauthorized("the recording pass's user no longer exists or changed role")
    return user


def member_exam_ids(user: User, role: Role) -> Select[int]:
    return select(Enrolment.exam_id).where(Enrolment.user_id == user.id, Enrolment.role == role)


def visible_sessions(user: User) -> Select[ExamSession]:
    query = select(ExamSession)
    if user.role == Role.CANDIDATE:
        return query.where(ExamSession.candidate_id == user.id)
    if user.role == Role.PROCTOR:
        return query.where(ExamSession.exam_id.in_(member_exam_ids(user, Role.PROCTOR)))
    return query


def visible_exams(user: User) -> Select[Exam]:
    query = select(Exam)
    if user.role == Role.CANDIDATE:
        return query.where(Exam.id.in_(member_exam_ids(user, Role.CANDIDATE)))
    if user.role == Role.PROCTOR:
        return query.where(Exam.id.in_(member_exam_ids(user, Role.PROCTOR)))
    return query


async def load_session(db: AsyncSession, user: User, session_id: int) -> ExamSession:
    session = (
        await db.execute(visible_sessions(user).where(ExamSession.id == session_id))
    ).scalar_one_or_none()
    if session is None:
        raise not_found(f"session {session_id}")
    return session


async def load_exam(db: AsyncSession, user: User, exam_id: int) -> Exam:
    exam = (await db.execute(visible_exams(user).where(Exam.id == exam_id))).scalar_one_or_none()
    if exam is None:
        raise not_found(f"exam {exam_id}")
    return exam


async def is_enrolled(db: AsyncSession, user: User, exam_id: int, role: Role) -> bool:
    found = await db.execute(
        select(Enrolment.id).where(
            Enrolment.exam_id == exam_id, Enrolment.user_id == user.id, Enrolment.role == role
        )
    )
    return found.first() is not None
