"""Console messages across nodes: Redis Streams, one per exam.

Each node appends what its live pipeline publishes (alerts, session changes, proctors'
messages, and overlays of the attempts a console focuses on: `cluster.focus`) to
`proctor:exam:<id>` (XADD, trimmed to about `MAX_LEN`), and reads the streams of the exams
its own consoles watch (XREAD BLOCK) into the bus its console feed reads. Streams rather
than pub/sub: a reader that was away (a slow read, a dropped connection) resumes from the
last id it saw instead of silently losing what was published meanwhile (pub/sub is
at-most-once and drops slow subscribers), and redis-py's asyncio pub/sub does not reconnect
by itself. When a gap cannot be closed (Redis restarted and lost the streams, or a publish
failed), the exam's consoles get `Missed` and reload from the database, which holds every
alert anyone was told about.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from live.bus import ConsoleBus
from live.messages import CONSOLE_MESSAGE, ConsoleMessage, Missed, Overlay

__all__ = ["ConsoleStreams", "stream_key"]

logger = logging.getLogger(__name__)

MAX_LEN = 2000
"""Messages kept per exam stream: ~10 s of overlays and alerts of a 50-candidate exam."""
BLOCK_MS = 500
"""How long one read waits for news: also how soon a newly watched exam is read."""
RETRY_SECONDS = 0.5


Entries = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]
"""What XREAD answers: per stream, its entries (id, fields)."""


def stream_key(exam_id: int) -> str:
    return f"proctor:exam:{exam_id}"


class ConsoleStreams:
    """`publish_from(local_bus)` appends; `read_into(bus, watched)` reads the exams that
    `watched()` names."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.published = 0
        self.read = 0

    async def publish_from(
        self, local: ConsoleBus, overlay_wanted: Callable[[int], bool] = lambda _: True
    ) -> None:
        """Everything `local` publishes, appended in order, until cancelled; an `Overlay`
        only for an attempt `overlay_wanted` (`cluster.focus.SharedFocus.wanted`)."""
        async with local.backlog() as backlog:
            while (item := await backlog.next()) is not None:
                batch = [item]
                while len(batch) < 256 and (more := backlog.take_ready()) is not None:
                    batch.append(more)
                batch = [
                    (exam_id, message)
                    for exam_id, message in batch
                    if not isinstance(message, Overlay) or overlay_wanted(message.session_id)
                ]
                if batch:
                    await self._append(batch)

    async def _append(self, batch: list[tuple[int, ConsoleMessage]]) -> None:
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for exam_id, message in batch:
                        fields: dict[Any, Any] = {"m": message.model_dump_json(by_alias=True)}
                        pipe.xadd(stream_key(exam_id), fields, maxlen=MAX_LEN, approximate=True)
                    await pipe.execute()
                self.published += len(batch)
                return
            except RedisError as error:
                # Held, not dropped: the readers will see a gap (Missed) only if Redis lost
                # the stream itself; a short outage delays the messages.
                logger.warning("console streams: append failed (%r); retrying", error)
                await asyncio.sleep(RETRY_SECONDS)

    async def read_into(self, bus: ConsoleBus, watched: Callable[[], set[int]]) -> None:
        """The streams of the exams `watched()` names, into `bus`, until cancelled."""
        last: dict[int, bytes] = {}
        while True:
            exams = watched()
            for gone in set(last) - exams:
                del last[gone]
            try:
                for exam_id in exams - set(last):
                    last[exam_id] = await self._tail(exam_id)
                if not last:
                    await asyncio.sleep(BLOCK_MS / 1000)
                    continue
                answer: Entries = await self._redis.xread(  # type: ignore[assignment]
                    {stream_key(e): i for e, i in last.items()}, block=BLOCK_MS, count=500
                )
            except RedisError as error:
                logger.warning("console streams: read failed (%r); consoles reload", error)
                for exam_id in last:
                    bus.publish(exam_id, Missed(count=0))
                last.clear()  # start again from each stream's end once Redis is back
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for key, entries in answer or []:
                exam_id = int(key.decode().rpartition(":")[2])
                for entry_id, fields in entries:
                    last[exam_id] = entry_id
                    self.read += 1
                    bus.publish(exam_id, CONSOLE_MESSAGE.validate_json(fields[b"m"]))

    async def _tail(self, exam_id: int) -> bytes:
        """The id of the stream's newest entry (read from after it), or 0-0."""
        newest: list[tuple[bytes, object]] = await self._redis.xrevrange(  # type: ignore[assignment]
            stream_key(exam_id), count=1
        )
        return newest[0][0] if newest else b"0-0"
