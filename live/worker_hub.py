"""The live pipeline spread over worker processes, one event loop each.

One event loop carries every RTP packet of every candidate; past ~40-50 candidates it runs
late whatever the cores (BENCHMARKS.md). So the live candidates live in `live_workers`
processes (`live.worker_process`), and this process, the front, keeps the REST API, the
database's migrations and sweeps, and the proctors' consoles:

- a new live session goes to the worker holding the fewest, and stays there until the
  attempt ends: every later request about it (offer, upload, thumbnail, message, watch,
  close) goes to that worker;
- media goes straight to the worker: its SDP answer carries its own ICE candidates;
- each worker streams its console messages to the front's bus over one WebSocket;
- the live cap counts every worker's sessions; a worker's own event loop running late
  refuses new candidates there, as in one process.

A worker that dies is started again; the candidates it held reconnect (their page sends a
new offer) and land on a worker that is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Collection
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from multiprocessing.process import BaseProcess
from typing import Any

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.bus import AlertBus
from api.errors import ApiError
from api.schemas import UploadFrameOut, WatchOut
from api.stats import LiveStatsOut
from core.settings import Settings
from core.tasks import cancel_and_wait, spawn
from live.admission import Admission, LoopLag
from live.contract import LiveState, NotLive, ServerBusy
from live.worker_process import REFUSALS, run_worker
from storage.alert_store import end_interrupted
from storage.models import ExamSession, utcnow

__all__ = ["WorkerHub", "worker_settings"]

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 60.0
"""A worker imports aiortc and the detectors before it answers: a few seconds, more on a
busy machine."""
STOP_TIMEOUT_SECONDS = 20.0
"""Time a worker gets to store its open incidents and hang up before it is killed."""
CALL_TIMEOUT = aiohttp.ClientTimeout(total=30.0)


def worker_settings(settings: Settings) -> Settings:
    """One worker's share: the analysis processes and threads divided between workers; the
    cap is counted by the front."""
    count = max(1, settings.live_workers)
    processes = settings.analysis_processes
    return replace(
        settings,
        live_workers=0,
        max_live_sessions=0,
        analysis_processes=max(1, processes // count) if processes else 0,
        detector_threads=max(2, settings.detector_threads // count),
    )


class _Worker:
    """The front's handle on one worker process."""

    def __init__(self, index: int, settings: Settings, socket_path: str) -> None:
        self.index = index
        self.settings = settings
        self.socket_path = socket_path
        self.process: BaseProcess | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ready = False
        """Started and answering; new sessions only go to ready workers."""

    def start(self) -> None:
        self.ready = False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        # Spawned, not forked: the front has threads (executor, aiosqlite).
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(
            target=run_worker,
            args=(self.settings, self.socket_path, self.index),
            name=f"live-worker-{self.index}",
        )
        self.process.start()
        if self.http is None:
            self.http = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path), timeout=CALL_TIMEOUT
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if not self.alive:
                code = None if self.process is None else self.process.exitcode
                raise RuntimeError(f"live worker {self.index} exited at start (code {code})")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                await self.call("GET", "/stats")
                self.ready = True
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"live worker {self.index} did not start within 60 s")
            await asyncio.sleep(0.1)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The worker's JSON (or bytes) answer; None for 204/404. A refusal is raised as the
        exception the worker raised."""
        assert self.http is not None
        async with self.http.request(method, f"http://worker{path}", **kwargs) as response:
            if response.status == 409:
                _raise_refusal(await response.json())
            if response.status in (204, 404):
                return None
            response.raise_for_status()
            if response.content_type == "application/json":
                return await response.json()
            return await response.read()

    async def stop(self) -> None:
        process = self.process
        if process is not None and process.is_alive():
            process.terminate()  # SIGTERM: the worker stores open incidents, then exits
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, process.join, STOP_TIMEOUT_SECONDS)
            if process.is_alive():
                logger.error("live worker %d did not stop in time; killed", self.index)
                process.kill()
                await loop.run_in_executor(None, process.join)
        if self.http is not None:
            await self.http.close()
            self.http = None


def _raise_refusal(body: dict[str, Any]) -> None:
    kind, message = body.get("error"), str(body.get("message", ""))
    if kind == "api":
        raise ApiError(int(body["status"]), str(body["code"]), message)
    raise REFUSALS.get(str(kind), RuntimeError)(message)


class WorkerHub:
    """`LivePipeline` over `settings.live_workers` worker processes. `start()` before use."""

    def __init__(self, settings: Settings, db: async_sessionmaker[AsyncSession]) -> None:
        if settings.live_workers < 1:
            raise ValueError("WorkerHub needs live_workers >= 1")
        # Only this user may enter the directory, so only it can reach the sockets.
        self._dir = tempfile.mkdtemp(prefix="proctor-live-")
        share = worker_settings(settings)
        self._workers = [
            _Worker(i, share, os.path.join(self._dir, f"worker-{i}.sock"))
            for i in range(settings.live_workers)
        ]
        self._db = db
        self._bus = AlertBus()
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="front")
        self._owners: dict[int, _Worker] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._relays: list[asyncio.Task[None]] = []
        self._closing = False
        self.loop_lag = LoopLag()
        self.admission = Admission(
            self.loop_lag,
            max_sessions=settings.max_live_sessions,
            max_lag=settings.max_loop_lag_seconds,
        )

    @property
    def bus(self) -> AlertBus:
        return self._bus

    @property
    def executor(self) -> Executor:
        return self._executor

    async def start(self) -> None:
        for worker in self._workers:
            worker.start()
        try:
            await asyncio.gather(*(worker.wait_ready() for worker in self._workers))
        except BaseException:
            await self.close()
            raise
        self.loop_lag.start()
        self._relays = [
            spawn(self._relay(worker), name=f"relay-{worker.index}", logger=logger)
            for worker in self._workers
        ]
        logger.info("%d live workers started", len(self._workers))

    @property
    def pids(self) -> list[int | None]:
        """The workers' process ids, by index (for benchmarks and tests)."""
        return [None if w.process is None else w.process.pid for w in self._workers]

    def owner(self, session_id: int) -> int | None:
        """The index of the worker holding the session, None when it is not live."""
        worker = self._owners.get(session_id)
        return None if worker is None else worker.index

    def _assign(self, session_id: int) -> _Worker:
        worker = self._owners.get(session_id)
        if worker is None:
            ready = [w for w in self._workers if w.ready]
            if not ready:
                raise ServerBusy("the live workers are restarting")
            load = {w.index: 0 for w in ready}
            for held in self._owners.values():
                load[held.index] = load.get(held.index, 0) + 1
            worker = min(ready, key=lambda w: (load[w.index], w.index))
            self._owners[session_id] = worker
        return worker

    async def accept_offer(self, row: ExamSession, sdp: str, sdp_type: str) -> dict[str, Any]:
        if (
            row.id not in self._owners
            and (reason := self.admission.refusal(len(self._owners))) is not None
        ):
            logger.warning("session %s: stream refused: %s", row.id, reason)
            raise ServerBusy(reason)
        worker = self._assign(row.id)
        try:
            answer: dict[str, Any] = await self._call(
                worker, "POST", f"/sessions/{row.id}/offer", json={"sdp": sdp, "type": sdp_type}
            )
        except ServerBusy:
            # The worker's loop runs late: it did not open the session.
            if self._owners.get(row.id) is worker:
                del self._owners[row.id]
            raise
        return answer

    async def analyze_upload(self, row: ExamSession, image: bytes) -> UploadFrameOut:
        try:
            worker = self._assign(row.id)
        except ServerBusy as error:
            raise ApiError(503, "live_worker_unavailable", f"{error}; try again") from None
        body = await self._call(worker, "POST", f"/sessions/{row.id}/upload", data=image)
        return UploadFrameOut.model_validate(body)

    def session_closed(self, session_id: int) -> None:
        worker = self._owners.pop(session_id, None)
        if worker is not None:
            self._in_background(self._call(worker, "POST", f"/sessions/{session_id}/close"))

    async def states(self, session_ids: Collection[int]) -> dict[int, LiveState]:
        asked: dict[_Worker, list[int]] = {}
        for sid in session_ids:
            if (worker := self._owners.get(sid)) is not None:
                asked.setdefault(worker, []).append(sid)
        answers = await asyncio.gather(
            *(self._call(w, "POST", "/states", json={"ids": ids}) for w, ids in asked.items())
        )
        return {
            int(sid): LiveState(**state)
            for answer in answers
            if answer
            for sid, state in answer.items()
        }

    async def thumbnail(self, session_id: int) -> bytes | None:
        worker = self._owners.get(session_id)
        if worker is None:
            return None
        jpeg: bytes | None = await self._call(worker, "GET", f"/sessions/{session_id}/thumbnail")
        return jpeg

    async def send_to_page(self, session_id: int, message: dict[str, Any]) -> bool:
        worker = self._owners.get(session_id)
        if worker is None:
            return False
        answer = await self._call(worker, "POST", f"/sessions/{session_id}/message", json=message)
        return bool(answer and answer["delivered"])

    async def watch(self, session_id: int, sdp: str, sdp_type: str) -> WatchOut:
        worker = self._owners.get(session_id)
        if worker is None:
            raise NotLive("the candidate has not connected a camera yet")
        body = {"sdp": sdp, "type": sdp_type}
        answer = await self._call(worker, "POST", f"/sessions/{session_id}/watch", json=body)
        return WatchOut.model_validate(answer)

    async def stats(self) -> LiveStatsOut:
        parts = [
            LiveStatsOut.model_validate(answer)
            for answer in await asyncio.gather(
                *(self._call(w, "GET", "/stats") for w in self._workers)
            )
        ]
        queues = [p.executor_queue for p in parts if p.executor_queue is not None]
        return LiveStatsOut(
            now=time.monotonic(),  # one clock for every process of the machine
            peers=sum(p.peers for p in parts),
            executor_queue=sum(queues) if queues else None,
            loop_lag_s=max([self.loop_lag.worst(), *(p.loop_lag_s for p in parts)]),
            offers_refused=self.admission.refused + sum(p.offers_refused for p in parts),
            sessions=[s for p in parts for s in p.sessions],
        )

    async def _call(self, worker: _Worker, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return await worker.call(method, path, **kwargs)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            logger.error("live worker %d: %s %s failed: %r", worker.index, method, path, error)
            raise ApiError(
                503, "live_worker_unavailable", "the live pipeline is restarting; try again"
            ) from None

    def _in_background(self, call: Any) -> None:
        # spawn logs a failure; waited for at close
        task = spawn(call, name="live-worker-call", logger=logger)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _relay(self, worker: _Worker) -> None:
        """The worker's console messages into this bus; a worker that died is restarted."""
        while not self._closing:
            assert worker.http is not None
            try:
                async with worker.http.ws_connect("http://worker/events", heartbeat=20.0) as ws:
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            event = message.json()
                            self._bus.publish(int(event["exam_id"]), event["message"])
            except (aiohttp.ClientError, OSError) as error:
                logger.debug("live worker %d: events: %r", worker.index, error)
            if self._closing:
                return
            if worker.alive:
                await asyncio.sleep(0.5)
                continue
            try:
                await self._restart(worker)
            except RuntimeError as error:
                if not self._closing:
                    logger.error("%s; trying again", error)
                    await asyncio.sleep(1.0)

    async def _restart(self, worker: _Worker) -> None:
        lost = [sid for sid, held in self._owners.items() if held is worker]
        for sid in lost:
            del self._owners[sid]
        code = None if worker.process is None else worker.process.exitcode
        logger.error(
            "live worker %d exited (code %s) holding %d sessions; starting it again",
            worker.index,
            code,
            len(lost),
        )
        await self._end_interrupted(lost)
        worker.start()
        await worker.wait_ready()

    async def _end_interrupted(self, session_ids: list[int]) -> None:
        """The dead worker's open incidents will never end by themselves: end them now and
        have the consoles read those sessions again."""
        try:
            async with self._db() as db:
                touched = await end_interrupted(db, session_ids, utcnow())
        except SQLAlchemyError:
            logger.exception("could not end the open incidents of sessions %s", session_ids)
            return
        for session_id, exam_id in touched.items():
            self._bus.publish(
                exam_id, {"type": "session", "session_id": session_id, "event": "updated"}
            )

    async def close(self) -> None:
        """Every worker stores its open incidents and hangs up; then they exit."""
        self._closing = True
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await asyncio.gather(*(worker.stop() for worker in self._workers))
        for relay in self._relays:
            await cancel_and_wait(relay)
        await self.loop_lag.stop()
        self._bus.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._dir, ignore_errors=True)
