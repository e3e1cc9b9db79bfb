"""Sign-ins that outlive one access token: rotating refresh tokens, and revoked access tokens.

A refresh token is 256 random bits; only its SHA-256 is stored, so a copy of the database
signs nobody in. Each use marks it used and hands out the next one of the same family (one
family per sign-in). A used token presented again means two parties hold it (RFC 9700,
4.14.2): the whole family is revoked and both must sign in again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import RefreshToken, RevokedToken, utcnow

log = logging.getLogger(__name__)


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked or already used; the message says which."""


@dataclass(frozen=True, slots=True)
class Rotated:
    user_id: int
    family: str
    token: str
    """The next refresh token (the one presented is now used)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_sign_in(db: AsyncSession, user_id: int, ttl_seconds: int) -> str:
    """A new family's first refresh token (commits)."""
    return await _issue(db, user_id, secrets.token_hex(16), ttl_seconds)


async def _issue(db: AsyncSession, user_id: int, family: str, ttl_seconds: int) -> str:
    now = utcnow()
    # Rows past their expiry prove nothing any more: each sign-in sweeps them.
    await db.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
    token = secrets.token_urlsafe(32)
    db.add(
        RefreshToken(
            token_hash=_digest(token),
            family=family,
            user_id=user_id,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    await db.commit()
    return token


async def rotate(db: AsyncSession, token: str, ttl_seconds: int) -> Rotated:
    """Trade a refresh token for the next one; raises RefreshRefused."""
    now = utcnow()
    row = (
        await db.execute(select(RefreshToken).where(RefreshToken.token_hash == _digest(token)))
    ).scalar_one_or_none()
    if row is None:
        raise RefreshRefused("the refresh token is not valid")
    if row.revoked_at is not None:
        raise RefreshRefused("the refresh token was revoked; sign in again")
    if row.expires_at <= now:
        raise RefreshRefused("the refresh token has expired; sign in again")
    # Conditional, so two requests racing with one token cannot both rotate it.
    claimed = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await _revoke_where(db, RefreshToken.family == row.family)
        log.warning("a used refresh token came back: sign-in of user %d revoked", row.user_id)
        raise RefreshRefused("the refresh token was already used; sign in again")
    next_token = await _issue(db, row.user_id, row.family, ttl_seconds)
    return Rotated(user_id=row.user_id, family=row.family, token=next_token)


async def end_sign_in(db: AsyncSession, token: str, user_id: int) -> bool:
    """Revoke the family of `token` if it belongs to `user_id`; True when one was found."""
    family = (
        await db.execute(
            select(RefreshToken.family).where(
                RefreshToken.token_hash == _digest(token), RefreshToken.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    if family is None:
        return False
    await _revoke_where(db, RefreshToken.family == family)
    return True


async def end_all_sign_ins(db: AsyncSession, user_id: int) -> None:
    await _revoke_where(db, RefreshToken.user_id == user_id)


async def _revoke_where(db: AsyncSession, condition: object) -> None:
    await db.execute(
        update(RefreshToken)
        .where(condition, RefreshToken.revoked_at.is_(None))  # type: ignore[arg-type]
        .values(revoked_at=utcnow())
    )
    await db.commit()


async def revoke_access_token(db: AsyncSession, jti: str, expires_at: datetime) -> None:
    """Stop one access token before its expiry (commits)."""
    now = utcnow()
    await db.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if await db.get(RevokedToken, jti) is None:
        db.add(RevokedToken(jti=jti, expires_at=expires_at))
    await db.commit()
