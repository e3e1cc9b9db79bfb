"""A pipeline that passes each request on to whichever pipeline holds the attempt: the live
workers of one node (`live.worker_hub`), or the nodes of a cluster (`cluster.pipeline`).
Only where a request goes differs between them; what each request means is written here,
once."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Generic, TypeVar, cast

from pydantic import BaseModel

from live.protocol import (
    Close,
    Done,
    LiveRefused,
    LiveStates,
    LiveStats,
    Offer,
    Refusal,
    Req,
    SendToPage,
    SentToPage,
    States,
    Stats,
    Thumbnail,
    ThumbnailReply,
    Upload,
    Watch,
)

__all__ = ["Router"]

R = TypeVar("R", bound=BaseModel)
T = TypeVar("T")
"""Where requests go: a worker, a node."""


class Router(ABC, Generic[T]):
    async def ask(self, request: Req[R]) -> R:
        reply: BaseModel
        match request:
            case Offer() | Upload():
                reply = await self._place(request, request.session.session_id)
            case Close():
                self.session_closed(request.session_id)
                reply = Done()
            case SendToPage():
                absent = SentToPage(delivered=False)
                reply = await self._to_holder(request.message.session_id, request, absent)
            case Watch():
                not_live = LiveRefused(Refusal.NOT_LIVE, "the candidate is not streaming")
                reply = await self._to_holder(request.session_id, request, not_live)
            case Thumbnail():
                no_frame = ThumbnailReply(jpeg=None)
                reply = await self._to_holder(request.session_id, request, no_frame)
            case States():
                reply = await self._states(request.session_ids)
            case Stats():
                reply = await self._stats()
            case _:
                raise TypeError(f"not a live request: {request!r}")
        return cast(R, reply)

    async def _to_holder(
        self, session_id: int, request: Req[R], absent: BaseModel | LiveRefused
    ) -> BaseModel:
        """Ask whichever holds the attempt; `absent` answers (or is raised) when none does."""
        target = await self._holder(session_id)
        if target is not None:
            return await self._send(target, request)
        if isinstance(absent, LiveRefused):
            raise absent
        return absent

    async def _states(self, session_ids: list[int]) -> LiveStates:
        """Each holder asked about its own attempts, at once; one that fails counts as none."""
        asked: dict[int, tuple[T, list[int]]] = {}
        for session_id in session_ids:
            target = await self._holder(session_id)
            if target is not None:
                asked.setdefault(id(target), (target, []))[1].append(session_id)
        answers = await asyncio.gather(
            *(self._send(target, States(session_ids=ids)) for target, ids in asked.values()),
            return_exceptions=True,
        )
        states = {}
        for answer in answers:
            if isinstance(answer, LiveStates):
                states.update(answer.states)
        return LiveStates(states=states)

    @abstractmethod
    async def _holder(self, session_id: int) -> T | None:
        """What holds the attempt now, if anything live does."""

    @abstractmethod
    async def _send(self, target: T, request: Req[R]) -> R: ...

    @abstractmethod
    async def _place(self, request: Req[R], session_id: int) -> R:
        """An offer or an upload: to the holder, or to a new one with room."""

    @abstractmethod
    async def _stats(self) -> LiveStats: ...

    @abstractmethod
    def session_closed(self, session_id: int) -> None: ...
