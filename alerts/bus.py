"""In-process pub/sub that feeds alert messages to proctor consoles.

    async with bus.subscribe(exam_id) as messages:   # exam_id None: every exam
        async for message in messages:
            await websocket.send_json(message)

Publishing never blocks and never fails because of a subscriber: each subscriber has a bounded
mailbox, and when it is full the oldest message is dropped. The subscriber then receives
``{"type": "missed", "count": n}`` before its next message, so a console knows to reload.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

MISSED = "missed"
"""The "type" of the notice a slow subscriber gets; publishers should not use it."""


class Subscription:
    """One subscriber's mailbox; iterate it asynchronously until the bus closes."""

    def __init__(self, exam_id: int | None, max_queue: int) -> None:
        self.exam_id = exam_id
        self._messages: deque[dict[str, Any]] = deque()
        self._max_queue = max_queue
        self._missed = 0
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def pending(self) -> int:
        """Messages waiting to be read."""
        return len(self._messages)

    def _put(self, message: dict[str, Any]) -> None:
        if len(self._messages) >= self._max_queue:
            self._messages.popleft()
            self._missed += 1
        self._messages.append(message)
        self._wakeup.set()

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while True:
            # Dropped messages were older than everything queued, so the notice goes first.
            if self._missed:
                count, self._missed = self._missed, 0
                return {"type": MISSED, "count": count}
            if self._messages:
                return self._messages.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()


Listener = Callable[[int, Mapping[str, Any]], None]


class AlertBus:
    """Fan-out of messages per exam. Use from the event loop's thread only; other threads
    go through `loop.call_soon_threadsafe(bus.publish, ...)`."""

    def __init__(self, max_queue: int = 256) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue: expected >= 1, got {max_queue!r}")
        self._max_queue = max_queue
        self._subscribers: dict[int | None, set[Subscription]] = {}
        self._listeners: list[Listener] = []
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    @asynccontextmanager
    async def subscribe(self, exam_id: int | None = None) -> AsyncIterator[Subscription]:
        """A mailbox for one exam's messages (or every exam's with None), while in scope."""
        subscription = Subscription(exam_id, self._max_queue)
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

    def add_listener(self, listener: Listener) -> None:
        """Also call `listener(exam_id, message)` with every message published (a live
        worker forwards its bus to the front process this way). It must not block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def publish(self, exam_id: int, message: Mapping[str, Any]) -> int:
        """Queue `message` for the exam's subscribers and the all-exams ones; returns how
        many got it. Never waits."""
        if self._closed:
            return 0
        # One shallow copy, shared read-only, so the publisher may reuse its dict.
        shared = dict(message)
        targets = [*self._subscribers.get(exam_id, ()), *self._subscribers.get(None, ())]
        for subscription in targets:
            subscription._put(shared)
        for listener in self._listeners:
            listener(exam_id, shared)
        return len(targets)

    def close(self) -> None:
        """End every subscriber's iteration (server shutdown); later publishes are dropped."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription._close()
