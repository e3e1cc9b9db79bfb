"""From the live pipeline's messages to what the consoles show, worked out once per event.

An alert or a change of an attempt makes every console of its exam show the attempt again
(status, connection, risk score, open alerts). That entry is built here, once, when the
event arrives, and only for exams some console is watching; then every console of the exam
gets the same message. Overlays and proctors' messages pass straight through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from pydantic import Field

from api.console_view import session_entry
from api.schemas import SessionUpdate
from api.services import Services
from core.tasks import cancel_and_wait, spawn
from live.bus import ExamBus
from live.messages import (
    AlertMessage,
    Missed,
    Overlay,
    ProctorMessage,
    SessionChanged,
    SessionEvent,
)
from live.pipeline import LivePipeline

__all__ = ["ConsoleFeed", "ConsoleOut"]

logger = logging.getLogger(__name__)

ConsoleOut = Annotated[
    AlertMessage | SessionUpdate | Overlay | ProctorMessage | Missed,
    Field(discriminator="type"),
]
"""What a console receives from the feed (`Missed`: reload the snapshot)."""


class ConsoleFeed:
    """Reads the pipeline's bus and publishes `ConsoleOut` per exam on `bus`."""

    def __init__(self, services: Services, pipeline: LivePipeline) -> None:
        self._services = services
        self._pipeline = pipeline
        self.bus: ExamBus[ConsoleOut] = ExamBus()
        self._focus: Counter[int] = Counter()

    @contextlib.contextmanager
    def focusing(self, session_id: int) -> Iterator[None]:
        """A console focuses on the attempt while in scope (`focused_sessions`)."""
        self._focus[session_id] += 1
        try:
            yield
        finally:
            self._focus[session_id] -= 1
            if self._focus[session_id] <= 0:
                del self._focus[session_id]

    def focused_sessions(self) -> set[int]:
        """The attempts some console of this node focuses on (a cluster sends only their
        overlays between nodes)."""
        return set(self._focus)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ConsoleFeed]:
        task = spawn(self._run(), name="console-feed", logger=logger)
        try:
            yield self
        finally:
            await cancel_and_wait(task)
            self.bus.close()

    async def _run(self) -> None:
        async with self._pipeline.bus.backlog() as backlog:
            while (item := await backlog.next()) is not None:
                exam_id, message = item
                if not self.bus.has_subscribers(exam_id):
                    continue  # nobody watches the exam: nothing to work out
                try:
                    await self._forward(exam_id, message)
                except asyncio.CancelledError:
                    raise
                except Exception:  # one event's summary failing must not stop the feed
                    logger.exception("exam %d: the consoles missed an update", exam_id)
                    self.bus.publish(exam_id, Missed(count=1))
        self.bus.close()  # the pipeline closed: server shutdown

    async def _forward(self, exam_id: int, message: object) -> None:
        match message:
            case AlertMessage():
                self.bus.publish(exam_id, message)
                await self._publish_entry(exam_id, message.session_id, "updated")
            case SessionChanged():
                await self._publish_entry(exam_id, message.session_id, message.event)
            case Overlay() | ProctorMessage() | Missed():
                self.bus.publish(exam_id, message)

    async def _publish_entry(self, exam_id: int, session_id: int, event: SessionEvent) -> None:
        entry = await session_entry(self._services, exam_id, session_id)
        if entry is not None:
            self.bus.publish(exam_id, SessionUpdate(event=event, session=entry))
