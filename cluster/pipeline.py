"""The live pipeline of a node among several: each request goes to the node holding the
attempt, or, for a new one, to a node with room.

- The holder of an attempt is in the database (`storage.ownership`): a request about it goes
  to that node if it is alive (`NodeRegistry`), signed (`cluster.signing`), over the same
  typed protocol a node's own live workers speak (`live.protocol`, `live.rpc`).
- A new attempt's offer goes to the better of two nodes picked at random among the live ones
  that take candidates (the less loaded, then the one with fewer candidates), then to the
  others in order of load; each node's own admission has the last word (load figures are
  seconds old: an exam-start burst must not all land on the node that looked empty). The
  node that accepts takes the attempt (its live session claims it), so it stays there; its
  answer carries its own ICE candidates, and media goes straight to it. When every node
  refuses, the offer gets the usual 503 with Retry-After.
- Console messages of every node reach every node's consoles through Redis Streams
  (`cluster.streams`); `bus` is what this node's consoles are fed from.
"""

from __future__ import annotations

import asyncio
import logging
import random
from concurrent.futures import Executor
from typing import TypeVar

import aiohttp
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cluster.registry import NodeInfo, NodeRegistry
from cluster.signing import NodeSigner
from core.tasks import spawn
from live.bus import ConsoleBus
from live.pipeline import LivePipeline
from live.protocol import Close, LiveRefused, LiveStats, Refusal, Req, Stats
from live.routing import Router
from live.rpc import RpcClient
from storage.ownership import holder

__all__ = ["NODE_RPC_PATH", "ClusterPipeline"]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)

NODE_RPC_PATH = "/internal/live"
"""Where a node answers the others' live requests (signed; never exposed to clients)."""


class ClusterPipeline(Router[NodeInfo]):
    """`LivePipeline` over the nodes of a cluster; `local` is this node's own."""

    def __init__(
        self,
        local: LivePipeline,
        registry: NodeRegistry,
        db: async_sessionmaker[AsyncSession],
        signer: NodeSigner,
    ) -> None:
        self.local = local
        self.registry = registry
        self._db = db
        self._signer = signer
        self._clients: dict[str, RpcClient] = {}
        self._background: set[asyncio.Task[object]] = set()
        self.bus = ConsoleBus()
        """Every node's console messages for the exams this node's consoles watch."""

    @property
    def executor(self) -> Executor:
        return self.local.executor

    @property
    def node_id(self) -> str:
        return self._signer.node_id

    async def _holder(self, session_id: int) -> NodeInfo | None:
        async with self._db() as db:
            node, _fence = await holder(db, session_id)
        return self.registry.alive(node)

    async def _send(self, node: NodeInfo, request: Req[R]) -> R:
        if node.id == self.node_id:
            return await self.local.ask(request)
        return await self._client(node).ask(request)

    def _client(self, node: NodeInfo) -> RpcClient:
        client = self._clients.get(node.id)
        if client is None or client.base != node.url:
            client = RpcClient(
                aiohttp.TCPConnector(limit=64),
                f"node {node.id}",
                base=node.url,
                path=NODE_RPC_PATH,
                sign=self._signer.sign,
            )
            self._clients[node.id] = client
        return client

    async def _place(self, request: Req[R], session_id: int) -> R:
        held = await self._holder(session_id)
        if held is not None:
            return await self._send(held, request)
        refusals = []
        for node in self._placement_order():
            try:
                return await self._send(node, request)
            except LiveRefused as refused:
                if refused.reason not in (Refusal.SERVER_BUSY, Refusal.UNAVAILABLE):
                    raise
                refusals.append(f"{node.id}: {refused.message}")
        logger.warning("session %s: every node refused: %s", session_id, "; ".join(refusals))
        raise LiveRefused(Refusal.SERVER_BUSY, "every node is at its limit")

    def _placement_order(self) -> list[NodeInfo]:
        """The better of two random choices first, then the rest by load."""
        alive = self.registry.alive
        nodes = [n for n in self.registry.nodes.values() if n.accepting and alive(n.id)]
        if not nodes:
            me = self.registry.me
            return [me] if me is not None else []
        by_load = sorted(nodes, key=lambda n: (n.load, n.sessions, random.random()))
        if len(nodes) >= 2:
            first = min(random.sample(nodes, 2), key=lambda n: (n.load, n.sessions))
            by_load.remove(first)
            by_load.insert(0, first)
        return by_load

    async def _stats(self) -> LiveStats:
        return await self.local.ask(Stats())  # this node's counters

    def session_closed(self, session_id: int) -> None:
        task = spawn(self._close(session_id), name=f"close-{session_id}", logger=logger)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close(self, session_id: int) -> None:
        node = await self._holder(session_id)
        if node is None:
            return
        if node.id == self.node_id:
            self.local.session_closed(session_id)
            return
        try:
            await self._client(node).ask(Close(session_id=session_id))
        except LiveRefused as refused:
            # The holder is going away or no longer has it: its own ending closes the attempt.
            logger.warning("session %s: node %s did not close it: %s", session_id, node.id, refused)

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for client in self._clients.values():
            await client.close()
        self.bus.close()
