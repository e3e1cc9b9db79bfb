"""One node of a cluster: what it runs besides its own live pipeline, started and stopped
together (`ClusterNode.running`).

- its lease in the registry, renewed with its live figures (`cluster.registry`);
- its pipeline's console messages appended to the exams' streams, and the streams of the
  exams its consoles watch read back (`cluster.streams`);
- the signed endpoint the other nodes call with live requests for the attempts it holds;
- taking over after a node whose lease lapsed: its attempts are fenced off it and their open
  incidents ended "(monitoring interrupted)"; the consoles refresh those candidates, whose
  pages reconnect and are placed on a live node.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cluster.focus import SharedFocus
from cluster.pipeline import NODE_RPC_PATH, ClusterPipeline
from cluster.registry import NodeInfo, NodeRegistry
from cluster.signing import NodeSigner, SignatureError
from cluster.streams import ConsoleStreams
from core.settings import Settings
from core.tasks import cancel_and_wait, spawn
from live.messages import SessionChanged
from live.pipeline import LivePipeline
from live.protocol import LiveRefused, Refusal, Stats
from live.rpc import rpc_handler
from storage.alert_store import take_over
from storage.models import utcnow

__all__ = ["ClusterNode", "connect_redis"]

logger = logging.getLogger(__name__)


def connect_redis(url: str) -> Redis:
    """A client that reconnects by itself (each command retries on a lost connection) and
    notices a dead link within seconds instead of blocking on it."""
    return Redis.from_url(
        url,
        socket_timeout=5.0,
        socket_connect_timeout=2.0,
        health_check_interval=5,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


class ClusterNode:
    """Built with the app (its endpoint is a route); `running(local)` once this node's own
    live pipeline has started."""

    def __init__(self, settings: Settings, db: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self._db = db
        self.redis = connect_redis(settings.redis_url)
        self.signer = NodeSigner(settings.secret_key, settings.resolved_node_id)
        self.registry = NodeRegistry(self.redis, self._describe, self._take_over)
        self.streams = ConsoleStreams(self.redis)
        self._local: LivePipeline | None = None
        self._pipeline: ClusterPipeline | None = None
        self.watched: Callable[[], set[int]] = set
        """The exams this node's consoles watch (set by the console feed)."""
        self.focused: Callable[[], set[int]] = set
        """The attempts this node's consoles focus on (set by the console feed)."""
        self.focus = SharedFocus(self.redis, self.signer.node_id)
        self.draining = False

    @property
    def local(self) -> LivePipeline:
        if self._local is None:
            raise LiveRefused(Refusal.UNAVAILABLE, "this node's live pipeline is not running")
        return self._local

    @property
    def pipeline(self) -> ClusterPipeline:
        if self._pipeline is None:
            raise LiveRefused(Refusal.UNAVAILABLE, "this node's live pipeline is not running")
        return self._pipeline

    async def _describe(self) -> NodeInfo:
        stats = await self.local.ask(Stats())
        return NodeInfo(
            id=self.signer.node_id,
            url=self.settings.resolved_node_url,
            sessions=stats.live_sessions,
            load=stats.analysis_load,
            loop_lag=stats.loop_lag_s,
            accepting=not self.draining,
            at=time.time(),
        )

    async def _take_over(self, dead: str) -> None:
        async with self._db() as db:
            held = await take_over(db, dead, utcnow())
        for session_id, exam_id in held.items():
            self.local.bus.publish(exam_id, SessionChanged(session_id=session_id, event="updated"))
        logger.error("node %s is dead: took its %d attempts over", dead, len(held))

    def setup_routes(self, app: web.Application) -> None:
        answer = rpc_handler(lambda request: self.local.ask(request))

        async def node_call(request: web.Request) -> web.StreamResponse:
            try:
                self.signer.verify(request.headers, await request.read())
            except SignatureError as error:
                return web.json_response({"error": str(error)}, status=403)
            return await answer(request)

        app.router.add_post(NODE_RPC_PATH, node_call)

    @contextlib.asynccontextmanager
    async def running(self, local: LivePipeline) -> AsyncIterator[ClusterPipeline]:
        self._local = local
        self._pipeline = ClusterPipeline(local, self.registry, self._db, self.signer)
        await self.registry.renew()  # known to the others before taking anything
        tasks: list[Any] = [
            spawn(self.registry.run(), name="node-registry", logger=logger),
            spawn(self.focus.run(lambda: self.focused()), name="focus", logger=logger),
            spawn(
                self.streams.publish_from(self.local.bus, self.focus.wanted),
                name="streams-out",
                logger=logger,
            ),
            spawn(
                self.streams.read_into(self.pipeline.bus, lambda: self.watched()),
                name="streams-in",
                logger=logger,
            ),
        ]
        try:
            yield self._pipeline
        finally:
            self.draining = True
            for task in tasks:
                await cancel_and_wait(task)
            with contextlib.suppress(Exception):
                await self.registry.leave()
            await self._pipeline.close()
            self._pipeline = None
            await self.redis.aclose()
