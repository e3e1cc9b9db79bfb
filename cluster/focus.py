"""Which attempts some console focuses on, across the nodes: only their overlays cross Redis.

An overlay (face boxes and gaze, about one a second per live candidate) matters only to a
console focused on that candidate, yet appending every overlay to the exam's stream was the
cluster's largest cost: at 10,000 candidates every node read every overlay of its exams
(BENCHMARKS.md, "Capacity plan"). So each node writes the attempts its own consoles focus
on into one sorted set, `proctor:focus`, scored by when the claim expires, renewed every
`REFRESH_SECONDS`, and reads the whole set back: a node appends an overlay only for an
attempt in it. A newly focused attempt's overlays reach the console within about one
refresh. While Redis cannot be read, every overlay is appended again (the consoles lose
nothing but bandwidth).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["FOCUS_KEY", "SharedFocus"]

logger = logging.getLogger(__name__)

FOCUS_KEY = "proctor:focus"
REFRESH_SECONDS = 1.0
CLAIM_SECONDS = 5.0
"""A node that stops renewing (it died) stops counting after this long."""


class SharedFocus:
    """`run(local)` keeps this node's focused attempts (`local()`) in Redis and `focused`
    up to date with every node's; `focused` is None while unknown (then overlays all go)."""

    def __init__(self, redis: Redis, node_id: str) -> None:
        self._redis = redis
        self._node = node_id
        self.focused: set[int] | None = None

    def wanted(self, session_id: int) -> bool:
        """Whether some console somewhere may want this attempt's overlays."""
        return self.focused is None or session_id in self.focused

    async def run(self, local: Callable[[], set[int]]) -> None:
        while True:
            try:
                self.focused = await self.refresh(local())
            except RedisError as error:
                logger.warning("console focus: Redis unavailable (%r); overlays all go", error)
                self.focused = None
            await asyncio.sleep(REFRESH_SECONDS)

    async def refresh(self, mine: set[int]) -> set[int]:
        """Claims `mine` for `CLAIM_SECONDS`, drops expired claims, and returns every
        node's focused attempts."""
        now = time.time()
        claims = {f"{self._node}:{session_id}": now + CLAIM_SECONDS for session_id in mine}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(FOCUS_KEY, "-inf", now)
            if claims:
                pipe.zadd(FOCUS_KEY, claims)
            pipe.zrange(FOCUS_KEY, 0, -1)
            *_, members = await pipe.execute()
        return {int(member.rpartition(b":")[2]) for member in members}
