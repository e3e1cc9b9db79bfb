"""The console bus: per-exam fan-out, bounded mailboxes, publishers never wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from live.bus import ExamBacklog, ExamBus, Subscription
from live.messages import Missed

Message = dict[str, int]


async def take(messages: Subscription[Message], count: int) -> list[Any]:
    got: list[Any] = []
    async with asyncio.timeout(2):
        async for message in messages:
            got.append(message)
            if len(got) == count:
                break
    return got


async def drain(backlog: ExamBacklog[Message], count: int) -> list[Any]:
    async with asyncio.timeout(2):
        return [await backlog.next() for _ in range(count)]


async def test_subscriber_gets_its_exam_and_a_backlog_gets_everything_with_the_exam() -> None:
    bus: ExamBus[Message] = ExamBus()
    async with bus.subscribe(1) as exam1, bus.backlog() as every, bus.subscribe(2) as exam2:
        assert bus.publish(1, {"n": 1}) == 1
        assert bus.publish(2, {"n": 2}) == 1
        assert bus.publish(3, {"n": 3}) == 0
        assert bus.has_subscribers(1) and not bus.has_subscribers(3)
        assert await take(exam1, 1) == [{"n": 1}]
        assert await take(exam2, 1) == [{"n": 2}]
        assert await drain(every, 3) == [(1, {"n": 1}), (2, {"n": 2}), (3, {"n": 3})]
        assert exam1.pending == exam2.pending == 0


async def test_a_waiting_subscriber_wakes_on_publish() -> None:
    bus: ExamBus[Message] = ExamBus()
    async with bus.subscribe(7) as messages:
        reader = asyncio.create_task(take(messages, 2))
        await asyncio.sleep(0)  # the reader is now parked on an empty mailbox
        bus.publish(7, {"n": 1})
        await asyncio.sleep(0)
        bus.publish(7, {"n": 2})
        assert await reader == [{"n": 1}, {"n": 2}]


async def test_slow_subscriber_drops_oldest_and_is_told_how_many() -> None:
    bus: ExamBus[Message] = ExamBus(max_queue=3)
    async with bus.subscribe(1) as slow, bus.subscribe(1) as fast:
        fast_reader = asyncio.create_task(take(fast, 10))
        for n in range(10):
            bus.publish(1, {"n": n})
            await asyncio.sleep(0)  # the fast reader keeps up; the slow one never reads
        assert slow.pending == 3
        assert await take(slow, 4) == [Missed(count=7), {"n": 7}, {"n": 8}, {"n": 9}]
        assert [m["n"] for m in await fast_reader] == list(range(10))


async def test_a_slow_backlog_is_told_which_exams_lost_messages() -> None:
    bus: ExamBus[Message] = ExamBus()
    async with bus.backlog(max_queue=2) as backlog:
        for n, exam in enumerate((1, 2, 1, 3)):
            bus.publish(exam, {"n": n})
        # {n:0} of exam 1 and {n:1} of exam 2 were dropped; each exam hears of its own loss.
        assert await drain(backlog, 4) == [
            (1, Missed(count=1)),
            (2, Missed(count=1)),
            (1, {"n": 2}),
            (3, {"n": 3}),
        ]


async def test_publishing_to_a_full_mailbox_never_waits() -> None:
    bus: ExamBus[Message] = ExamBus(max_queue=1)
    async with bus.subscribe(1) as stuck:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(10_000):
            bus.publish(1, {"n": n})
        assert loop.time() - started < 1.0
        assert stuck.pending == 1
        assert await take(stuck, 2) == [Missed(count=9_999), {"n": 9_999}]


async def test_leaving_the_context_unsubscribes() -> None:
    bus: ExamBus[Message] = ExamBus()
    async with bus.subscribe(1):
        assert bus.subscriber_count == 1
    assert bus.subscriber_count == 0
    assert bus.publish(1, {"n": 1}) == 0


async def test_close_ends_iteration_for_every_reader() -> None:
    bus: ExamBus[Message] = ExamBus()
    async with bus.subscribe(1) as messages, bus.backlog() as backlog:
        bus.publish(1, {"n": 1})
        bus.close()
        got = [m async for m in messages]  # ends instead of waiting forever
        assert got == [{"n": 1}]
        assert await drain(backlog, 2) == [(1, {"n": 1}), None]
        assert bus.publish(1, {"n": 2}) == 0
    async with bus.subscribe(1) as late:
        assert [m async for m in late] == []


def test_mailbox_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        ExamBus(max_queue=0)
