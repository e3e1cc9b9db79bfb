"""The proctor-console bus: per-exam fan-out, bounded mailboxes, publishers never wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from alerts.bus import AlertBus, Subscription


async def take(messages: Subscription, count: int) -> list[dict[str, Any]]:
    got = []
    async with asyncio.timeout(2):
        async for message in messages:
            got.append(message)
            if len(got) == count:
                break
    return got


async def test_subscriber_gets_its_exam_and_all_exams_subscriber_gets_everything() -> None:
    bus = AlertBus()
    async with bus.subscribe(1) as exam1, bus.subscribe(None) as every, bus.subscribe(2) as exam2:
        assert bus.publish(1, {"n": 1}) == 2
        assert bus.publish(2, {"n": 2}) == 2
        assert bus.publish(3, {"n": 3}) == 1
        assert await take(exam1, 1) == [{"n": 1}]
        assert await take(exam2, 1) == [{"n": 2}]
        assert await take(every, 3) == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert exam1.pending == exam2.pending == every.pending == 0


async def test_a_waiting_subscriber_wakes_on_publish() -> None:
    bus = AlertBus()
    async with bus.subscribe(7) as messages:
        reader = asyncio.create_task(take(messages, 2))
        await asyncio.sleep(0)  # the reader is now parked on an empty mailbox
        bus.publish(7, {"n": 1})
        await asyncio.sleep(0)
        bus.publish(7, {"n": 2})
        assert await reader == [{"n": 1}, {"n": 2}]


async def test_slow_subscriber_drops_oldest_and_is_told_how_many() -> None:
    bus = AlertBus(max_queue=3)
    async with bus.subscribe(1) as slow, bus.subscribe(1) as fast:
        fast_reader = asyncio.create_task(take(fast, 10))
        for n in range(10):
            bus.publish(1, {"n": n})
            await asyncio.sleep(0)  # the fast reader keeps up; the slow one never reads
        assert slow.pending == 3
        assert await take(slow, 4) == [{"type": "missed", "count": 7}, {"n": 7}, {"n": 8}, {"n": 9}]
        assert [m["n"] for m in await fast_reader] == list(range(10))


async def test_publishing_to_a_full_mailbox_never_waits() -> None:
    bus = AlertBus(max_queue=1)
    async with bus.subscribe(1) as stuck:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(10_000):
            bus.publish(1, {"n": n})
        assert loop.time() - started < 1.0
        assert stuck.pending == 1
        assert await take(stuck, 2) == [{"type": "missed", "count": 9_999}, {"n": 9_999}]


async def test_publisher_may_reuse_its_dict() -> None:
    bus = AlertBus()
    async with bus.subscribe(1) as messages:
        message = {"n": 1}
        bus.publish(1, message)
        message["n"] = 2
        assert await take(messages, 1) == [{"n": 1}]


async def test_leaving_the_context_unsubscribes() -> None:
    bus = AlertBus()
    async with bus.subscribe(1):
        assert bus.subscriber_count == 1
    assert bus.subscriber_count == 0
    assert bus.publish(1, {"n": 1}) == 0


async def test_close_ends_iteration_for_every_subscriber() -> None:
    bus = AlertBus()
    async with bus.subscribe(1) as messages:
        bus.publish(1, {"n": 1})
        bus.close()
        got = [m async for m in messages]  # ends instead of waiting forever
        assert got == [{"n": 1}]
        assert bus.publish(1, {"n": 2}) == 0
    async with bus.subscribe(1) as late:
        assert [m async for m in late] == []


def test_mailbox_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        AlertBus(max_queue=0)
