"""Who the caller is, and what they may see. One place for every ownership rule:

- a candidate sees their own sessions and alerts, and the exams they are enrolled in;
- a proctor sees the exams they are assigned to, and those exams' sessions and alerts;
- an admin sees everything.
Things the caller may not see answer 404, as if they did not exist.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import not_found, unauthorized
from api.services import Services
from auth.tokens import InvalidToken, TokenClaims
from storage.models import Enrolment, Exam, ExamSession, RevokedToken, Role, User


async def authenticate(request: web.Request, services: Services) -> User:
    return await user_from_token(bearer_token(request), services)


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("send an access token: Authorization: Bearer <token>")
    return token.strip()


def verified_claims(token: str, services: Services) -> TokenClaims:
    try:
        return services.tokens.verify(token)
    except InvalidToken as error:
        raise unauthorized(str(error)) from None


async def user_from_token(token: str, services: Services) -> User:
    """The user an access token stands for: signed, unexpired, not revoked (sign-out), of
    an account that still exists, is not disabled and has the role the token names."""
    claims = verified_claims(token, services)
    revoked = exists().where(RevokedToken.jti == claims.token_id)
    async with services.db() as db:
        found = (await db.execute(select(User, revoked).where(User.id == claims.user_id))).first()
    if found is not None and found[1]:
        raise unauthorized("the access token was revoked; sign in again")
    return _still_allowed(found[0] if found else None, claims.role)


async def socket_user(request: web.Request, services: Services) -> User:
    """Who opens a WebSocket: a single-use ticket in the query (browsers cannot send headers
    on a WebSocket; `auth.tickets`), or the bearer header from other clients. Never a token
    in the URL."""
    ticket = request.query.get("ticket", "")
    if not ticket:
        return await authenticate(request, services)
    holder = await services.tickets.redeem(ticket)
    if holder is None:
        raise unauthorized("the ticket is not valid, already used or expired; ask for another")
    return await current_user(holder.user_id, holder.role, services)


async def current_user(user_id: int, role: str, services: Services) -> User:
    """The user again, by the same rules as a token (long-lived connections recheck this)."""
    async with services.db() as db:
        user = await db.get(User, user_id)
    return _still_allowed(user, role)


def _still_allowed(user: User | None, role: str) -> User:
    # The role in the token must still be the user's role: a demoted user's old token stops.
    if user is None or user.role != role:
        raise unauthorized("the access token's user no longer exists or changed role")
    if user.disabled_at is not None:
        raise unauthorized("this account has been disabled")
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
