"""The candidate's consent to being recorded, given before anything is taken of them.

    GET  /api/consent      the deployment's text, its version, and whether the caller agreed
    POST /api/me/consent   {version}: agree to that text (kept with its time)

The text is configurable per deployment (`PROCTOR_CONSENT_TEXT`); a consent is to one text,
named by its SHA-256, so a changed text asks everyone again. Without a consent to the
current text the reference photo is refused and no attempt starts (409 `consent_required`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import conflict
from api.operation import Call
from api.schemas_review import ConsentBody, ConsentOut
from core.settings import Settings
from storage.models import Consent, User, utcnow

__all__ = ["consent_status", "give_consent", "require_consent"]


def text_version(settings: Settings) -> str:
    return hashlib.sha256(settings.consent_text.encode()).hexdigest()


async def _given_at(db: AsyncSession, user: User, version: str) -> datetime | None:
    found = await db.execute(
        select(Consent.given_at)
        .where(Consent.user_id == user.id, Consent.text_sha256 == version)
        .order_by(Consent.given_at.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()


async def require_consent(db: AsyncSession, user: User, settings: Settings) -> None:
    """409 `consent_required` unless `user` agreed to the current text."""
    if await _given_at(db, user, text_version(settings)) is None:
        raise conflict(
            "consent_required",
            "agree to the recording and data notice first (GET /api/consent, POST /api/me/consent)",
        )


async def consent_status(call: Call) -> ConsentOut:
    settings = call.services.settings
    version = text_version(settings)
    async with call.services.db() as db:
        given = await _given_at(db, call.caller, version)
    return ConsentOut(text=settings.consent_text, version=version, given_at=given)


async def give_consent(call: Call) -> ConsentOut:
    body: ConsentBody = call.body
    settings = call.services.settings
    version = text_version(settings)
    if body.version != version:
        raise conflict("consent_outdated", "the notice has changed: read it again and agree")
    async with call.services.db() as db:
        given = await _given_at(db, call.caller, version)
        if given is None:
            given = utcnow()
            db.add(
                Consent(
                    user_id=call.caller.id,
                    text_sha256=version,
                    text=settings.consent_text,
                    given_at=given,
                )
            )
            await db.commit()
    return ConsentOut(text=settings.consent_text, version=version, given_at=given)
