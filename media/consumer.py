"""The shape shared by everything that reads a remote track, and the do-nothing reader.

aiortc's remote track keeps every decoded frame in an unbounded queue until someone calls
`recv()`: a track nobody reads grows without limit. Every track a peer receives therefore gets
a consumer, `TrackDrain` when nothing needs its frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.tasks import spawn

logger = logging.getLogger(__name__)

__all__ = ["TrackConsumer", "TrackDrain"]


class TrackConsumer(Protocol):
    """Reads one track from `start` until the track ends or `stop` is awaited."""

    def start(self, track: MediaStreamTrack) -> None:
        """Begin reading `track` in background tasks; returns at once."""
        ...

    async def stop(self) -> None:
        """Stop reading and wait for the background tasks to end. Idempotent."""
        ...


class TrackDrain:
    """Reads a track and drops every frame, so aiortc's queue stays empty."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self.frames = 0
        """Frames read so far."""

    def start(self, track: MediaStreamTrack) -> None:
        if self._task is not None:
            raise RuntimeError("TrackDrain already started")
        self._task = spawn(self._read(track), name=f"drain-{track.kind}", logger=logger)

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames += 1

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)


async def cancel_and_wait(task: asyncio.Task[object]) -> None:
    """Cancel `task` and wait until it has ended (its own failure is logged by `spawn`)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
