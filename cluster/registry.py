"""The nodes of the cluster, in Redis: each node renews a short lease describing itself;
a node whose lease lapses is dead, and one surviving node cleans up after it.

    proctor:nodes           set of node ids ever seen (until cleaned up)
    proctor:node:<id>       NodeInfo JSON, expiring `lease` seconds after each renewal

A node renews every `interval` (1.5 s) with a 5 s lease: a node that stops (killed,
partitioned, its loop stuck) is declared dead within about 6.5 s. Reading the live nodes is
one SMEMBERS and one MGET, done on each renewal, so placement never waits on Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["NodeInfo", "NodeRegistry"]

logger = logging.getLogger(__name__)

NODES = "proctor:nodes"
LEASE_SECONDS = 5.0
RENEW_SECONDS = 1.5


def node_key(node_id: str) -> str:
    return f"proctor:node:{node_id}"


class NodeInfo(BaseModel):
    """What a node says about itself on each renewal."""

    id: str
    url: str
    """Where the other nodes call it (`PROCTOR_NODE_URL`)."""
    sessions: int
    """Live candidates it holds."""
    load: float
    """Its analysers' busy share of their capacity (`live.admission.BusyShare`)."""
    loop_lag: float
    accepting: bool
    """False while draining (shutting down): it takes no new candidates."""
    at: float
    """Wall time of the renewal."""


Describe = Callable[[], Awaitable[NodeInfo]]
OnDead = Callable[[str], Awaitable[None]]


class NodeRegistry:
    def __init__(
        self,
        redis: Redis,
        describe: Describe,
        on_dead: OnDead,
        *,
        lease: float = LEASE_SECONDS,
        interval: float = RENEW_SECONDS,
    ) -> None:
        self._redis = redis
        self._describe = describe
        self._on_dead = on_dead
        self.lease = lease
        self.interval = interval
        self.nodes: dict[str, NodeInfo] = {}
        """The live nodes as last read (this one included), by id."""
        self.me: NodeInfo | None = None

    async def run(self) -> None:
        """Renew, read, clean up; forever (cancel to stop). Redis being away only pauses it."""
        while True:
            try:
                await self.renew()
            except RedisError as error:
                logger.warning("node registry: Redis unreachable (%r); trying again", error)
            await asyncio.sleep(self.interval)

    async def renew(self) -> None:
        self.me = await self._describe()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(node_key(self.me.id), self.me.model_dump_json(), px=int(self.lease * 1000))
            pipe.sadd(NODES, self.me.id)
            await pipe.execute()
        await self.read()

    async def read(self) -> None:
        members = await self._redis.smembers(NODES)
        ids = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        values = await self._redis.mget([node_key(i) for i in ids]) if ids else []
        nodes: dict[str, NodeInfo] = {}
        for node_id, raw in zip(ids, values, strict=True):
            if raw is None:
                await self._reap(node_id)
                continue
            try:
                nodes[node_id] = NodeInfo.model_validate_json(raw)
            except ValidationError:
                logger.error("node registry: unreadable entry for %s", node_id)
        self.nodes = nodes

    async def _reap(self, node_id: str) -> None:
        """The node's lease lapsed: one surviving node (whoever sets the mark first) ends
        what it held."""
        mark = f"proctor:reaping:{node_id}"
        won = await self._redis.set(mark, self.me.id if self.me else "", nx=True, ex=60)
        if not won:
            return
        logger.error("node %s stopped renewing its lease: taking over its attempts", node_id)
        await self._on_dead(node_id)
        await self._redis.srem(NODES, node_id)
        await self._redis.delete(mark)

    def alive(self, node_id: str | None) -> NodeInfo | None:
        """The node's last description if it is alive (its lease unexpired when read)."""
        if node_id is None:
            return None
        info = self.nodes.get(node_id)
        if info is None or time.time() - info.at > self.lease:
            return None
        return info

    async def leave(self) -> None:
        """Shutting down cleanly: not a live node any more (and not a dead one either)."""
        if self.me is not None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(node_key(self.me.id))
                pipe.srem(NODES, self.me.id)
                await pipe.execute()
