"""The shape shared by everything that reads a remote track, and the do-nothing reader.

aiortc's remote track keeps every decoded frame in an unbounded queue until someone calls
`recv()`: a track nobody reads grows without limit. Every track a peer receives therefore gets
a consumer, `TrackDrain` when nothing needs its frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any, ClassVar, Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from core.tasks import cancel_and_wait, spawn

logger = logging.getLogger(__name__)

__all__ = ["ReaderAndWorker", "TrackConsumer", "TrackDrain"]


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


class ReaderAndWorker(ABC):
    """A consumer made of two tasks: a reader that keeps up with the stream and keeps only
    what the worker needs, and a worker that does the slow part at its own pace.

    Subclasses set `kind` and implement `_read(track)` and `_work()`; `_name` names the tasks.
    """

    kind: ClassVar[str]
    _worker_label: ClassVar[str] = "work"
    _name: str
    _reader: asyncio.Task[None] | None = None
    _worker: asyncio.Task[None] | None = None

    def start(self, track: MediaStreamTrack) -> None:
        """Start reading `track` in background tasks."""
        cls = type(self).__name__
        if self._reader is not None:
            raise RuntimeError(f"{cls} already started")
        if track.kind != self.kind:
            raise ValueError(f"{cls} needs a {self.kind} track, got {track.kind!r}")
        self._reader = spawn(self._read(track), name=f"{self._name}-reader", logger=logger)
        name = f"{self._name}-{self._worker_label}"
        self._worker = spawn(self._work(), name=name, logger=logger)

    @property
    def running(self) -> bool:
        """True from `start` until the track has ended and the last work is done."""
        return self._worker is not None and not self._worker.done()

    async def wait_ended(self) -> None:
        """Wait until the track has ended and the work already taken on is delivered."""
        if self._worker is not None:
            await asyncio.wait({self._worker})

    async def stop(self) -> None:
        """Stop reading and working; a result still in the executor is dropped."""
        for task in (self._reader, self._worker):
            if task is not None:
                await cancel_and_wait(task)

    @abstractmethod
    def _read(self, track: MediaStreamTrack) -> Coroutine[Any, Any, None]:
        """Read every frame as it arrives; keep only what `_work` will need."""

    @abstractmethod
    def _work(self) -> Coroutine[Any, Any, None]:
        """Process what `_read` kept, at its own pace."""
