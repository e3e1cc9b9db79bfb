"""One live worker process: a `LiveHub` behind a small HTTP API on a Unix socket.

The front process (`live.worker_hub.WorkerHub`) has already checked the caller, the attempt
and its state; it asks here for what only the process holding the peer can do. Media never
passes through the front: the SDP answer carries this process's own ICE candidates.

    POST /sessions/{id}/offer      {"sdp", "type"}  -> the answer
    POST /sessions/{id}/upload     the image bytes  -> UploadFrameOut
    POST /sessions/{id}/close                       -> 204
    POST /sessions/{id}/message    a JSON object    -> {"delivered": bool}
    POST /sessions/{id}/watch      {"sdp", "type"}  -> WatchOut
    GET  /sessions/{id}/thumbnail                   -> image/jpeg or 404
    POST /states                   {"ids": [...]}   -> {"<id>": {"connected", "viewers"}}
    GET  /stats                                     -> LiveStatsOut
    GET  /events                   WebSocket: every console message, {"exam_id", "message"}

A refusal is a 409 with {"error": kind, "message": ...}: kind is one of `REFUSALS`, or
"api" with the status and code of an `ApiError`. The socket lives in a directory only this
user can enter, so nothing else on the machine can call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import ApiError
from core.settings import Settings
from live.contract import NotLive, ServerBusy
from live.hub import LiveHub
from live.watch import ViewerLimitReached
from signaling.errors import InvalidOffer
from storage.db import create_engine, session_factory
from storage.models import ExamSession

__all__ = ["REFUSALS", "run_worker"]

logger = logging.getLogger(__name__)

REFUSALS: dict[str, type[Exception]] = {
    "server_busy": ServerBusy,
    "invalid_offer": InvalidOffer,
    "not_live": NotLive,
    "viewer_limit": ViewerLimitReached,
}
EVENTS_BACKLOG = 4096
"""Console messages held for a slow front before the oldest are dropped (and the exam's
consoles told to reload)."""
PARENT_CHECK_SECONDS = 1.0

HUB = web.AppKey("hub", LiveHub)
EVENT_SOCKETS = web.AppKey("event_sockets", set[web.WebSocketResponse])
DB = web.AppKey("db", async_sessionmaker[AsyncSession])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def run_worker(settings: Settings, socket_path: str, index: int) -> None:
    """The process's entry point (spawned by `WorkerHub`)."""
    logging.basicConfig(
        level=settings.log_level,
        format=f"%(asctime)s %(levelname)s worker-{index} %(name)s: %(message)s",
    )
    # Ctrl-C reaches the whole process group: the front decides when workers stop (SIGTERM).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_serve(settings, socket_path))


async def _serve(settings: Settings, socket_path: str) -> None:
    parent = os.getppid()
    engine = create_engine(settings.resolved_database_url)
    db = session_factory(engine)
    hub = LiveHub(settings, db)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[_refusals])
    app[HUB], app[DB], app[EVENT_SOCKETS] = hub, db, set()
    app.on_shutdown.append(_close_event_sockets)
    app.add_routes(
        [
            web.post("/sessions/{id}/offer", _offer),
            web.post("/sessions/{id}/upload", _upload),
            web.post("/sessions/{id}/close", _close),
            web.post("/sessions/{id}/message", _message),
            web.post("/sessions/{id}/watch", _watch),
            web.get("/sessions/{id}/thumbnail", _thumbnail),
            web.post("/states", _states),
            web.get("/stats", _stats),
            web.get("/events", _events),
        ]
    )
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, socket_path).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        # A front that died without stopping us (SIGKILL) leaves us to a new parent.
        while os.getppid() == parent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PARENT_CHECK_SECONDS)
            if stop.is_set():
                break
    finally:
        await runner.cleanup()
        await hub.close()  # open incidents ended and stored, peers hung up
        await engine.dispose()


@web.middleware
async def _refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        body = {"error": "api", "status": error.status, "code": error.code, "message": str(error)}
        return web.json_response(body, status=409)
    except tuple(REFUSALS.values()) as error:
        name = next(n for n, raised in REFUSALS.items() if isinstance(error, raised))
        return web.json_response({"error": name, "message": str(error)}, status=409)


def _session_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def _row(request: web.Request) -> ExamSession:
    session_id = _session_id(request)
    async with request.app[DB]() as db:
        row = await db.get(ExamSession, session_id)
    if row is None:
        raise web.HTTPNotFound(text=f"no session {session_id}")
    return row


async def _offer(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    answer = await request.app[HUB].accept_offer(await _row(request), body["sdp"], body["type"])
    return web.json_response(answer)


async def _upload(request: web.Request) -> web.StreamResponse:
    result = await request.app[HUB].analyze_upload(await _row(request), await request.read())
    return web.json_response(result.model_dump(mode="json"))


async def _close(request: web.Request) -> web.StreamResponse:
    request.app[HUB].session_closed(_session_id(request))
    return web.Response(status=204)


async def _message(request: web.Request) -> web.StreamResponse:
    delivered = await request.app[HUB].send_to_page(_session_id(request), await request.json())
    return web.json_response({"delivered": delivered})


async def _watch(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    answer = await request.app[HUB].watch(_session_id(request), body["sdp"], body["type"])
    return web.json_response(answer.model_dump(mode="json"))


async def _thumbnail(request: web.Request) -> web.StreamResponse:
    jpeg = await request.app[HUB].thumbnail(_session_id(request))
    if jpeg is None:
        return web.Response(status=404)
    return web.Response(body=jpeg, content_type="image/jpeg")


async def _states(request: web.Request) -> web.StreamResponse:
    ids = [int(sid) for sid in (await request.json())["ids"]]
    states = await request.app[HUB].states(ids)
    return web.json_response({str(sid): asdict(state) for sid, state in states.items()})


async def _stats(request: web.Request) -> web.StreamResponse:
    return web.json_response((await request.app[HUB].stats()).model_dump(mode="json"))


async def _events(request: web.Request) -> web.StreamResponse:
    """Every message this worker's bus publishes, in order, to the front's consoles."""
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    request.app[EVENT_SOCKETS].add(ws)
    backlog: deque[dict[str, Any]] = deque()
    dropped: set[int] = set()
    ready = asyncio.Event()

    def enqueue(exam_id: int, message: Mapping[str, Any]) -> None:
        if len(backlog) >= EVENTS_BACKLOG:
            dropped.add(backlog.popleft()["exam_id"])
        backlog.append({"exam_id": exam_id, "message": message})
        ready.set()

    async def until_closed() -> None:
        async for _ in ws:
            pass  # the front sends nothing; this notices it leaving
        ready.set()

    bus = request.app[HUB].bus
    bus.add_listener(enqueue)
    reader = asyncio.get_running_loop().create_task(until_closed())
    try:
        while not ws.closed:
            await ready.wait()
            ready.clear()
            for exam_id in dropped:
                await ws.send_json({"exam_id": exam_id, "message": {"type": "missed"}})
            if dropped:
                logger.warning("the front fell behind: consoles of %d exams reload", len(dropped))
                dropped.clear()
            while backlog:
                await ws.send_json(backlog.popleft())
    except ConnectionResetError:
        pass  # the front went away; it reconnects or is shutting down
    finally:
        bus.remove_listener(enqueue)
        reader.cancel()
        request.app[EVENT_SOCKETS].discard(ws)
    return ws


async def _close_event_sockets(app: web.Application) -> None:
    sockets = app[EVENT_SOCKETS]
    for ws in list(sockets):
        await ws.close()
