"""What the API asks of the live pipeline: `LiveHub` runs it in this process, `WorkerHub`
spreads it over worker processes (one event loop each). Handlers only see this protocol."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from alerts.bus import AlertBus

if TYPE_CHECKING:
    from api.schemas import UploadFrameOut, WatchOut
    from api.stats import LiveStatsOut
    from storage.models import ExamSession

__all__ = ["LivePipeline", "LiveState", "NotLive", "ServerBusy"]


class ServerBusy(Exception):
    """A new live candidate was refused: the server is at its limit (the message says which)."""


class NotLive(Exception):
    """The attempt has no live session (the candidate has not connected a camera)."""


@dataclass(frozen=True, slots=True)
class LiveState:
    """What the proctors' console shows of a live session."""

    connected: bool
    viewers: int


class LivePipeline(Protocol):
    @property
    def bus(self) -> AlertBus:
        """Messages for the proctors' consoles, per exam."""
        ...

    @property
    def executor(self) -> Executor:
        """Worker threads for CPU work a handler needs (decoding a reference photo)."""
        ...

    async def accept_offer(self, row: ExamSession, sdp: str, sdp_type: str) -> dict[str, Any]:
        """The answer to the candidate page's offer; raises `ServerBusy`, `InvalidOffer`."""
        ...

    async def analyze_upload(self, row: ExamSession, image: bytes) -> UploadFrameOut: ...

    def session_closed(self, session_id: int) -> None:
        """The attempt ended: flush its alerts and hang up, soon (never waits)."""
        ...

    async def states(self, session_ids: Collection[int]) -> dict[int, LiveState]:
        """The live ones among `session_ids`."""
        ...

    async def thumbnail(self, session_id: int) -> bytes | None: ...

    async def send_to_page(self, session_id: int, message: dict[str, Any]) -> bool:
        """False when the candidate's data channel is not open."""
        ...

    async def watch(self, session_id: int, sdp: str, sdp_type: str) -> WatchOut:
        """A proctor's receive-only offer -> answer; raises `NotLive`, `InvalidOffer`,
        `ViewerLimitReached`."""
        ...

    async def stats(self) -> LiveStatsOut: ...

    async def close(self) -> None: ...
