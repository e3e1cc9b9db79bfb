"""The console WebSocket of an exam, `GET /api/exams/{exam_id}/live` (proctor of the exam,
or admin).

It first sends a `ConsoleSnapshot` of the exam's active attempts, then streams what the
console feed publishes for the exam (`api.console_feed.ConsoleOut`): `SessionUpdate`s,
`AlertMessage`s, `ProctorMessage`s and the `Overlay`s of the one attempt the console
focuses on; a fresh snapshot after a gap (`Missed`) or when the set of active attempts
changed without a live event (checked every `RESYNC_SECONDS`). It accepts `FocusRequest`
and `SnapshotRequest`. When the caller may no longer watch, a `ConsoleClosed` says why and
the socket closes with 4000 + the HTTP status. Every message is in `/api/asyncapi.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.access import current_user, load_exam, socket_user
from api.console_feed import ConsoleFeed, ConsoleOut
from api.console_view import active_session_ids, exam_snapshot
from api.errors import ApiError, forbidden
from api.operation import path_id
from api.schemas import ConsoleClosed, ConsoleRequest, ErrorBody, FocusRequest, SessionUpdate
from api.services import SERVICES, Services
from live.bus import Subscription
from live.messages import Missed, Overlay
from storage.models import Role, User

__all__ = ["LIVE_PATH", "close_console_sockets", "live_socket"]

logger = logging.getLogger(__name__)

LIVE_PATH = "/api/exams/{exam_id}/live"
RESYNC_SECONDS = 5.0
"""How often a console's list of active attempts is checked against the database, for
changes no live event announces (an attempt started but not streaming, a deadline passed)."""
STAFF = (Role.PROCTOR, Role.ADMIN)
CONSOLE_REQUEST: TypeAdapter[ConsoleRequest] = TypeAdapter(ConsoleRequest)


async def live_socket(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    exam_id = path_id(request, "exam_id")
    user = await socket_user(request, services)
    if user.role not in STAFF:
        raise forbidden("this needs the role proctor or admin")
    async with services.db() as db:
        await load_exam(db, user, exam_id)
    feed = services.feed
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await ws.prepare(request)
    services.console_sockets.add(ws)
    try:
        await _Console(services, feed, exam_id, ws, user).run()
    except ConnectionResetError:
        pass  # the console went away mid-send
    finally:
        services.console_sockets.discard(ws)
        await ws.close()
    return ws


class _Console:
    """One open console: the feed's messages for its exam in, the socket out."""

    def __init__(
        self,
        services: Services,
        feed: ConsoleFeed,
        exam_id: int,
        ws: web.WebSocketResponse,
        user: User,
    ) -> None:
        self.services = services
        self.feed = feed
        self.user = user
        self.exam_id = exam_id
        self.ws = ws
        self.focus: int | None = None
        self._focusing = contextlib.ExitStack()
        self.known: set[int] = set()
        self.snapshot_wanted = asyncio.Event()

    async def run(self) -> None:
        async with self.feed.bus.subscribe(self.exam_id) as messages:
            await self.send_snapshot()
            reader = asyncio.get_running_loop().create_task(self.read())
            try:
                await self.pump(messages)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
                self._focusing.close()

    def _focus_on(self, session_id: int | None) -> None:
        self._focusing.close()
        self.focus = session_id
        if session_id is not None:
            self._focusing.enter_context(self.feed.focusing(session_id))

    async def send_snapshot(self) -> None:
        snapshot = await exam_snapshot(self.services, self.exam_id)
        self.known = {s.session_id for s in snapshot.sessions}
        await self.send(snapshot)

    async def read(self) -> None:
        """The console's requests; ends (and so ends the pump) when the socket closes."""
        async for message in self.ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                asked = CONSOLE_REQUEST.validate_json(message.data)
            except ValidationError:
                continue  # the console is not trusted to be well-formed
            if isinstance(asked, FocusRequest):
                self._focus_on(asked.session_id)
            else:
                self.snapshot_wanted.set()
        self.snapshot_wanted.set()  # wake the pump, which sees the socket closed

    async def pump(self, messages: Subscription[ConsoleOut]) -> None:
        loop = asyncio.get_running_loop()
        next_resync = loop.time() + RESYNC_SECONDS
        pending: asyncio.Task[ConsoleOut | Missed | None] | None = None
        wanted: asyncio.Task[bool] | None = None
        try:
            while not self.ws.closed:
                if pending is None:
                    pending = loop.create_task(anext(messages, None))
                if wanted is None:
                    wanted = loop.create_task(self.snapshot_wanted.wait())
                timeout = max(0.0, next_resync - loop.time())
                done, _ = await asyncio.wait(
                    {pending, wanted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if self.ws.closed:
                    return
                if wanted in done:
                    wanted = None
                    self.snapshot_wanted.clear()
                    await self.send_snapshot()
                if pending in done:
                    message, pending = pending.result(), None
                    if message is None:
                        return  # the feed closed: server shutdown
                    await self.forward(message)
                if loop.time() >= next_resync:
                    next_resync = loop.time() + RESYNC_SECONDS
                    if not await self.still_allowed():
                        return
                    if await active_session_ids(self.services, self.exam_id) != self.known:
                        await self.send_snapshot()
        finally:
            for task in (pending, wanted):
                if task is not None:
                    task.cancel()

    async def still_allowed(self) -> bool:
        """The checks made at connect, made again: a user disabled, demoted or removed, an
        exam no longer visible to them close the socket."""
        try:
            user = await current_user(self.user.id, self.user.role, self.services)
            async with self.services.db() as db:
                await load_exam(db, user, self.exam_id)
        except ApiError as error:
            await self.send(ConsoleClosed(error=ErrorBody(code=error.code, message=str(error))))
            await self.ws.close(code=4000 + error.status, message=error.code.encode())
            return False
        return True

    async def forward(self, message: ConsoleOut | Missed) -> None:
        match message:
            case Missed():
                await self.send_snapshot()  # some messages were dropped: start again from truth
            case Overlay():
                if message.session_id == self.focus:
                    await self.send(message)
            case SessionUpdate():
                if message.session.status == "active":
                    self.known.add(message.session.session_id)
                else:
                    self.known.discard(message.session.session_id)
                await self.send(message)
            case _:
                await self.send(message)

    async def send(self, message: BaseModel) -> None:
        await self.ws.send_str(message.model_dump_json(by_alias=True))


async def close_console_sockets(app: web.Application) -> None:
    """on_shutdown: consoles are told the server goes away before the pipeline stops."""
    sockets = app[SERVICES].console_sockets
    await asyncio.gather(
        *(
            ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            for ws in list(sockets)
        ),
        return_exceptions=True,
    )
