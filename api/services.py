"""Typed application state: one key, holding everything the handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.throttle import LoginGuard, SlidingWindow
from auth.tickets import TicketBook
from auth.tokens import TokenIssuer
from core.settings import Settings

if TYPE_CHECKING:
    from live.contract import LivePipeline


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    tokens: TokenIssuer
    logins: LoginGuard
    registrations: SlidingWindow
    """Registrations per client address and hour."""
    tickets: TicketBook
    live: LivePipeline | None = None
    """The live proctoring pipeline; None until it has started."""
    extras: dict[str, Any] = field(default_factory=dict)


SERVICES = web.AppKey("services", Services)
