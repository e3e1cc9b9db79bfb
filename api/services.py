"""Typed application state: one key, holding everything the handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.throttle import LoginGuard, Windows
from auth.tickets import Tickets
from auth.tokens import TokenIssuer
from core.settings import Settings
from live.pipeline import LivePipeline
from live.protocol import LiveRefused, Refusal
from storage.blobs import BlobStore

if TYPE_CHECKING:
    from api.console_feed import ConsoleFeed
    from cluster.node import ClusterNode


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    tokens: TokenIssuer
    logins: LoginGuard
    registrations: Windows
    """Registrations per client address and hour."""
    tickets: Tickets
    blobs: BlobStore
    """Evidence and other files, wherever every node reaches them (`storage.blobs`)."""
    live: LivePipeline | None = None
    """The live proctoring pipeline; None until it has started (see `pipeline`)."""
    console_feed: ConsoleFeed | None = None
    """What the consoles receive, worked out once per event; None until started."""
    node: ClusterNode | None = None
    """This node's part in a cluster (PROCTOR_REDIS_URL); None on a single box."""
    console_sockets: set[web.WebSocketResponse] = field(default_factory=set)
    """Open console WebSockets, closed first at shutdown."""

    @property
    def pipeline(self) -> LivePipeline:
        """The live pipeline; refused (503) while it is not running."""
        if self.live is None:
            raise LiveRefused(Refusal.UNAVAILABLE, "the live pipeline is not running")
        return self.live

    @property
    def feed(self) -> ConsoleFeed:
        """The console feed; refused (503) while the live pipeline is not running."""
        if self.console_feed is None:
            raise LiveRefused(Refusal.UNAVAILABLE, "the live pipeline is not running")
        return self.console_feed


SERVICES = web.AppKey("services", Services)

