"""In-process fan-out of messages per exam, for the proctors' consoles.

`ConsoleBus` carries the live pipeline's console messages (`live.messages.ConsoleMessage`:
alerts, session changes, overlays, proctors' messages); the API's console feed runs a
second `ExamBus` of what the consoles finally receive.

    async with bus.subscribe(exam_id) as messages:   # one exam's messages
        async for message in messages:
            ...
    async with bus.backlog() as backlog:             # every exam's, with the exam id
        while (item := await backlog.next()) is not None:
            exam_id, message = item

Publishing never blocks and never fails because of a reader: each reader has a bounded
queue, and when it is full the oldest message is dropped. The reader then gets
`Missed(count=n)` (for that exam, in a backlog) before its next message, so a console knows
to reload from the database.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from live.messages import ConsoleMessage, Missed

__all__ = ["ConsoleBus", "ExamBacklog", "ExamBus", "Subscription"]

M = TypeVar("M")


class Subscription(Generic[M]):
    """One subscriber's mailbox for one exam; iterate it until the bus closes."""

    def __init__(self, exam_id: int, max_queue: int) -> None:
        self.exam_id = exam_id
        self._messages: deque[M] = deque()
        self._max_queue = max_queue
        self._missed = 0
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def pending(self) -> int:
        """Messages waiting to be read."""
        return len(self._messages)

    def _put(self, message: M) -> None:
        if len(self._messages) >= self._max_queue:
            self._messages.popleft()
            self._missed += 1
        self._messages.append(message)
        self._wakeup.set()

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def __aiter__(self) -> Subscription[M]:
        return self

    async def __anext__(self) -> M | Missed:
        while True:
            # Dropped messages were older than everything queued, so the notice goes first.
            if self._missed:
                count, self._missed = self._missed, 0
                return Missed(count=count)
            if self._messages:
                return self._messages.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()


class ExamBacklog(Generic[M]):
    """Every exam's messages in publishing order, for one reader (a worker's event stream,
    the console feed)."""

    def __init__(self, max_queue: int) -> None:
        self._items: deque[tuple[int, M]] = deque()
        self._max_queue = max_queue
        self._missed: dict[int, int] = {}
        self._wakeup = asyncio.Event()
        self._closed = False

    def _put(self, exam_id: int, message: M) -> None:
        if len(self._items) >= self._max_queue:
            lost, _ = self._items.popleft()
            self._missed[lost] = self._missed.get(lost, 0) + 1
        self._items.append((exam_id, message))
        self._wakeup.set()

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def next(self) -> tuple[int, M | Missed] | None:
        """The next (exam id, message); None once the bus has closed and all is read."""
        while True:
            if (item := self.take_ready()) is not None:
                return item
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def take_ready(self) -> tuple[int, M | Missed] | None:
        """The next (exam id, message) if one is waiting; None otherwise (never waits)."""
        if self._missed:
            exam_id = next(iter(self._missed))
            return exam_id, Missed(count=self._missed.pop(exam_id))
        if self._items:
            return self._items.popleft()
        return None


Listener = Callable[[int, M], None]


class ExamBus(Generic[M]):
    """Fan-out of messages per exam. Use from the event loop's thread only; other threads
    go through `loop.call_soon_threadsafe(bus.publish, ...)`."""

    def __init__(self, max_queue: int = 256) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue: expected >= 1, got {max_queue!r}")
        self._max_queue = max_queue
        self._subscribers: dict[int, set[Subscription[M]]] = {}
        self._backlogs: set[ExamBacklog[M]] = set()
        self._listeners: list[Listener[M]] = []
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    def has_subscribers(self, exam_id: int) -> bool:
        return bool(self._subscribers.get(exam_id))

    def subscribed_exams(self) -> set[int]:
        """The exams somebody subscribes to now."""
        return {exam_id for exam_id, subs in self._subscribers.items() if subs}

    @asynccontextmanager
    async def subscribe(self, exam_id: int) -> AsyncIterator[Subscription[M]]:
        """A mailbox for one exam's messages, while in scope."""
        subscription: Subscription[M] = Subscription(exam_id, self._max_queue)
        if self._closed:
            subscription._close()
        subscribers = self._subscribers.setdefault(exam_id, set())
        subscribers.add(subscription)
        try:
            yield subscription
        finally:
            subscribers.discard(subscription)
            if not subscribers and self._subscribers.get(exam_id) is subscribers:
                del self._subscribers[exam_id]
            subscription._close()

    @asynccontextmanager
    async def backlog(self, max_queue: int = 4096) -> AsyncIterator[ExamBacklog[M]]:
        """Every exam's messages, with their exam id, while in scope."""
        backlog: ExamBacklog[M] = ExamBacklog(max_queue)
        if self._closed:
            backlog._close()
        self._backlogs.add(backlog)
        try:
            yield backlog
        finally:
            self._backlogs.discard(backlog)
            backlog._close()

    def add_listener(self, listener: Listener[M]) -> None:
        """Also call `listener(exam_id, message)` with every message published. It must not
        block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener[M]) -> None:
        self._listeners.remove(listener)

    def publish(self, exam_id: int, message: M) -> int:
        """Queue `message` (immutable, shared) for the exam's readers; returns how many
        subscribers got it. Never waits."""
        if self._closed:
            return 0
        subscribers = self._subscribers.get(exam_id, ())
        for subscription in subscribers:
            subscription._put(message)
        for backlog in self._backlogs:
            backlog._put(exam_id, message)
        for listener in self._listeners:
            listener(exam_id, message)
        return len(subscribers)

    def close(self) -> None:
        """End every reader's iteration (server shutdown); later publishes are dropped."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription._close()
        for backlog in self._backlogs:
            backlog._close()


class ConsoleBus(ExamBus[ConsoleMessage]):
    """The live pipeline's console messages, per exam."""
