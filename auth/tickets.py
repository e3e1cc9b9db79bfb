"""Single-use tickets for the console's WebSocket, so no token ever sits in a URL.

A browser cannot set headers on a WebSocket, and a URL ends up in access logs, proxy logs
and browser history. So the console asks `POST /api/ws-ticket` (bearer token in the header)
for a ticket, then opens `...?ticket=<ticket>` within `TICKET_SECONDS`; the first use spends
it. Only their SHA-256 is kept: in this process's memory on one box (`TicketBook`), in
Redis with several nodes (`cluster.shared`), where a ticket from one node opens a socket
on any other.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

TICKET_SECONDS = 30.0
"""Long enough for a slow network to open the socket, short enough to be useless later."""

MAX_OPEN_TICKETS = 10_000
"""Oldest tickets are dropped beyond this many (each needs a signed-in staff member)."""


@dataclass(frozen=True, slots=True)
class TicketHolder:
    user_id: int
    role: str
    """The role when the ticket was issued: a user whose role changed since is refused."""


class Tickets(Protocol):
    ttl_seconds: float

    async def issue(self, holder: TicketHolder) -> str: ...

    async def redeem(self, ticket: str) -> TicketHolder | None:
        """Who the ticket was issued to, once; None if unknown, spent or expired."""
        ...


class TicketBook:
    """Tickets in this process's memory."""

    def __init__(
        self, ttl_seconds: float = TICKET_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._open: OrderedDict[str, tuple[TicketHolder, float]] = OrderedDict()

    async def issue(self, holder: TicketHolder) -> str:
        now = self._clock()
        while self._open and (
            len(self._open) >= MAX_OPEN_TICKETS or next(iter(self._open.values()))[1] <= now
        ):
            self._open.popitem(last=False)
        ticket = secrets.token_urlsafe(32)
        self._open[digest(ticket)] = (holder, now + self.ttl_seconds)
        return ticket

    async def redeem(self, ticket: str) -> TicketHolder | None:
        """Who the ticket was issued to, once; None if unknown, spent or expired."""
        found = self._open.pop(digest(ticket), None)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

def digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()
