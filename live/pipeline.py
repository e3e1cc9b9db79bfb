"""What the rest of the server asks of the live pipeline. `LiveHub` runs it in this process,
`WorkerHub` spreads it over worker processes (one event loop each); callers see only this."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Protocol, TypeVar

from pydantic import BaseModel

from live.bus import ConsoleBus
from live.protocol import Req

__all__ = ["LivePipeline"]

R = TypeVar("R", bound=BaseModel)


class LivePipeline(Protocol):
    @property
    def bus(self) -> ConsoleBus:
        """Messages for the proctors' consoles, per exam."""
        ...

    @property
    def executor(self) -> Executor:
        """Worker threads for CPU work a handler needs (decoding a reference photo)."""
        ...

    async def ask(self, request: Req[R]) -> R:
        """Carry out one request (`live.protocol`); raises `LiveRefused` when refused."""
        ...

    def session_closed(self, session_id: int) -> None:
        """The attempt ended: publish "ended", flush its alerts and hang up, soon (never
        waits)."""
        ...

    async def close(self) -> None:
        """Server shutdown: every open incident ended and stored, every peer hung up."""
        ...
