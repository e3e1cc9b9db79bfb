"""The transport of `live.protocol` between processes: typed requests over HTTP, and the
worker's console messages streamed back over one WebSocket.

    POST /rpc     a `Request` as JSON -> 200 with its reply model, or 409 with `Refused`
    GET  /events  WebSocket: `WorkerEvent`s in order; after a drop, `Missed` per exam

Both ends validate what arrives against the same models. Today the channel is a Unix socket
in a directory only the server's user can enter (`live.worker_hub`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ValidationError

from live.bus import ConsoleBus
from live.messages import Missed
from live.protocol import (
    REQUEST,
    WORKER_EVENT,
    LiveRefused,
    Refusal,
    Refused,
    Req,
    WorkerEvent,
)

__all__ = ["EVENTS_BACKLOG", "RpcClient", "Sign", "rpc_handler", "serve_rpc"]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)

RPC_PATH = "/rpc"
EVENTS_PATH = "/events"
EVENTS_BACKLOG = 4096
"""Console messages held for a slow reader before the oldest are dropped (and the exams'
consoles told to reload)."""
CALL_TIMEOUT = aiohttp.ClientTimeout(total=30.0)

Answer = Callable[[Req[Any]], Awaitable[BaseModel]]


Sign = Callable[[bytes], dict[str, str]]
"""Headers that prove a request's origin (between nodes: `cluster.signing`)."""


class RpcClient:
    """Asks one live worker (or, with `base` and `sign`, another node); a transport failure
    is `LiveRefused(UNAVAILABLE)`."""

    def __init__(
        self,
        connector: aiohttp.BaseConnector,
        name: str,
        *,
        base: str = "http://worker",
        path: str = RPC_PATH,
        sign: Sign | None = None,
    ) -> None:
        self._http = aiohttp.ClientSession(connector=connector, timeout=CALL_TIMEOUT)
        self._name = name
        self.base = base
        self._url = base + path
        self._sign = sign

    async def ask(self, request: Req[R]) -> R:
        data = request.model_dump_json().encode()
        headers = {"Content-Type": "application/json"}
        if self._sign is not None:
            headers.update(self._sign(data))
        try:
            async with self._http.post(self._url, data=data, headers=headers) as response:
                body = await response.read()
                if response.status == 409:
                    raise Refused.model_validate_json(body).error()
                response.raise_for_status()
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            logger.error("%s: %s failed: %r", self._name, type(request).__name__, error)
            raise LiveRefused(
                Refusal.UNAVAILABLE, "the live pipeline is restarting; try again"
            ) from None
        return cast(R, type(request).reply.model_validate_json(body))

    async def events(self) -> AsyncIterator[WorkerEvent]:
        """The worker's console messages until the connection ends (then returns)."""
        async with self._http.ws_connect(f"{self.base}{EVENTS_PATH}", heartbeat=20.0) as ws:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    yield WORKER_EVENT.validate_json(message.data)

    async def close(self) -> None:
        await self._http.close()


def serve_rpc(app: web.Application, answer: Answer, bus: ConsoleBus) -> None:
    """The worker's side: requests to `answer`, `bus` streamed to the events socket (closed
    when `app` shuts down)."""
    sockets: set[web.WebSocketResponse] = set()

    async def events(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        sockets.add(ws)
        try:
            await _stream(ws, bus)
        finally:
            sockets.discard(ws)
        return ws

    async def close_sockets(_app: web.Application) -> None:
        for ws in list(sockets):
            await ws.close()

    app.add_routes([web.post(RPC_PATH, rpc_handler(answer)), web.get(EVENTS_PATH, events)])
    app.on_shutdown.append(close_sockets)


def rpc_handler(answer: Answer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A request's JSON to `answer`, its reply (or refusal) back as JSON."""

    async def rpc(request: web.Request) -> web.StreamResponse:
        try:
            parsed = REQUEST.validate_json(await request.read())
        except ValidationError as error:
            return web.json_response({"error": str(error)}, status=400)
        try:
            reply = await answer(parsed)
        except LiveRefused as refused:
            return _json(Refused(refused=refused.reason, message=refused.message), status=409)
        return _json(reply)

    return rpc


def _json(model: BaseModel, status: int = 200) -> web.Response:
    text = model.model_dump_json()
    return web.Response(text=text, status=status, content_type="application/json")


async def _stream(ws: web.WebSocketResponse, bus: ConsoleBus) -> None:
    """Every message `bus` publishes, in order, until the reader leaves."""

    async def until_closed() -> None:
        async for _ in ws:
            pass  # the reader sends nothing; this notices it leaving

    async with bus.backlog(EVENTS_BACKLOG) as backlog:
        reader = asyncio.get_running_loop().create_task(until_closed())
        try:
            while not reader.done():
                next_item = asyncio.ensure_future(backlog.next())
                await asyncio.wait({next_item, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not next_item.done():
                    next_item.cancel()
                    return
                if (item := next_item.result()) is None:
                    return  # the bus closed: shutdown
                exam_id, message = item
                if isinstance(message, Missed):
                    logger.warning("the front fell behind: exam %d's consoles reload", exam_id)
                await ws.send_str(WorkerEvent(exam_id=exam_id, message=message).model_dump_json())
        except ConnectionResetError:
            pass  # the reader went away; it reconnects or is shutting down
        finally:
            reader.cancel()
