"""The live pipeline spread over worker processes, one event loop each.

One event loop carries every RTP packet of every candidate; past ~40-50 candidates it runs
late whatever the cores (BENCHMARKS.md). So the live candidates live in `live_workers`
processes (`live.worker_process`), and this process, the front, keeps the REST API, the
database's migrations and sweeps, and the proctors' consoles:

- a new live session goes to the worker holding the fewest, and stays there until the
  attempt ends: every later request about it goes to that worker (`live.protocol` over
  `live.rpc`);
- media goes straight to the worker: its SDP answer carries its own ICE candidates;
- each worker streams its console messages to the front's bus;
- the live cap counts every worker's sessions; a worker's own event loop running late
  refuses new candidates there, as in one process.

A worker that dies is started again; the incidents it held open are ended ("monitoring
interrupted") and the consoles refresh those candidates; their pages reconnect (a new
offer) and land on a worker that is up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from functools import reduce
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from core.tasks import cancel_and_wait, spawn
from live.admission import Admission, Budget, BusyShare, LoopLag, ProcessTreeCpu, available_cpus
from live.analysis import limit_blas_threads
from live.bus import ConsoleBus
from live.counters import HistogramOut
from live.messages import SessionChanged
from live.protocol import (
    Close,
    LiveRefused,
    LiveStats,
    Offer,
    Refusal,
    Req,
    Stats,
)
from live.routing import Router
from live.worker_supervisor import LiveWorker
from storage.alert_store import end_interrupted
from storage.models import utcnow

__all__ = ["WorkerHub", "worker_settings"]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)


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


class WorkerHub(Router[LiveWorker]):
    """`LivePipeline` over `settings.live_workers` worker processes. `start()` before use."""

    def __init__(self, settings: Settings, db: async_sessionmaker[AsyncSession]) -> None:
        if settings.live_workers < 1:
            raise ValueError("WorkerHub needs live_workers >= 1")
        limit_blas_threads()  # inherited by the workers and their analysis processes
        # Only this user may enter the directory, so only it can reach the sockets.
        self._dir = tempfile.mkdtemp(prefix="proctor-live-")
        share = worker_settings(settings)
        self._workers = [
            LiveWorker(i, share, os.path.join(self._dir, f"worker-{i}.sock"))
            for i in range(settings.live_workers)
        ]
        self._db = db
        self._bus = ConsoleBus()
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="front")
        self._owners: dict[int, LiveWorker] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._relays: list[asyncio.Task[None]] = []
        self._closing = False
        self._restarts = 0
        self.loop_lag = LoopLag()
        # The whole tree's processors here; each worker watches its own analysers.
        self.cpu_load = BusyShare("cpu-load", ProcessTreeCpu().seconds, available_cpus())
        self.admission = Admission(
            self.loop_lag,
            max_sessions=settings.max_live_sessions,
            max_lag=settings.max_loop_lag_seconds,
            budgets=[Budget("the processors", self.cpu_load, settings.max_cpu_load)],
        )

    @property
    def bus(self) -> ConsoleBus:
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
        self.cpu_load.start()
        self._relays = [
            spawn(self._relay(worker), name=f"relay-{worker.index}", logger=logger)
            for worker in self._workers
        ]
        logger.info("%d live workers started", len(self._workers))

    @property
    def pids(self) -> list[int | None]:
        """The workers' process ids, by index (for benchmarks and tests)."""
        return [worker.pid for worker in self._workers]

    def owner(self, session_id: int) -> int | None:
        """The index of the worker holding the session, None when it is not live."""
        worker = self._owners.get(session_id)
        return None if worker is None else worker.index

    # --- requests -----------------------------------------------------------------------

    async def _holder(self, session_id: int) -> LiveWorker | None:
        return self._owners.get(session_id)

    async def _send(self, target: LiveWorker, request: Req[R]) -> R:
        return await target.rpc.ask(request)

    def _assign(self, session_id: int) -> LiveWorker:
        """The session's worker; a new session goes to the ready worker holding the fewest."""
        worker = self._owners.get(session_id)
        if worker is None:
            ready = [w for w in self._workers if w.ready]
            if not ready:
                raise LiveRefused(Refusal.UNAVAILABLE, "the live workers are restarting")
            load = {w.index: 0 for w in ready}
            for held in self._owners.values():
                load[held.index] = load.get(held.index, 0) + 1
            worker = min(ready, key=lambda w: (load[w.index], w.index))
            self._owners[session_id] = worker
        return worker

    async def _place(self, request: Req[R], session_id: int) -> R:
        """An upload goes to the attempt's worker (a new one to the least loaded); an offer
        for an attempt not live yet passes admission first."""
        new = session_id not in self._owners
        offer = isinstance(request, Offer)  # (a flag: narrowing `request` would lose R)
        if not offer:
            return await self._assign(session_id).rpc.ask(request)
        if new and (reason := self.admission.admit(len(self._owners))) is not None:
            logger.warning("session %s: stream refused: %s", session_id, reason)
            raise LiveRefused(Refusal.SERVER_BUSY, reason)
        worker = self._assign(session_id)
        try:
            return await worker.rpc.ask(request)
        except LiveRefused as refused:
            # Not opened there (its loop runs late, the offer was bad): not held there.
            if refused.reason is Refusal.SERVER_BUSY and self._owners.get(session_id) is worker:
                del self._owners[session_id]
            raise

    async def _stats(self) -> LiveStats:
        parts = await asyncio.gather(*(worker.rpc.ask(Stats()) for worker in self._workers))
        queues = [p.executor_queue for p in parts if p.executor_queue is not None]
        return LiveStats(
            now=time.monotonic(),  # one clock for every process of the machine
            peers=sum(p.peers for p in parts),
            live_sessions=sum(p.live_sessions for p in parts),
            executor_queue=sum(queues) if queues else None,
            loop_lag_s=max([self.loop_lag.worst(), *(p.loop_lag_s for p in parts)]),
            analysis_load=max(p.analysis_load for p in parts),
            offers_refused=self.admission.refused + sum(p.offers_refused for p in parts),
            analyses=sum(p.analyses for p in parts),
            stores_failed=sum(p.stores_failed for p in parts),
            analysis_latency=reduce(HistogramOut.plus, (p.analysis_latency for p in parts)),
            delivery_latency=reduce(HistogramOut.plus, (p.delivery_latency for p in parts)),
            worker_restarts=self._restarts,
            sessions=[s for p in parts for s in p.sessions],
        )

    def session_closed(self, session_id: int) -> None:
        worker = self._owners.pop(session_id, None)
        if worker is not None:
            # spawn logs a failure; waited for at close
            task = spawn(worker.rpc.ask(Close(session_id=session_id)), name="close", logger=logger)
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # --- events and failures ------------------------------------------------------------

    async def _relay(self, worker: LiveWorker) -> None:
        """The worker's console messages into this bus; a worker that died is restarted."""
        while not self._closing:
            try:
                async for event in worker.rpc.events():
                    self._bus.publish(event.exam_id, event.message)
            except OSError as error:  # aiohttp's ClientError is one too
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

    async def _restart(self, worker: LiveWorker) -> None:
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
        self._restarts += 1
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
            self._bus.publish(exam_id, SessionChanged(session_id=session_id, event="updated"))

    async def close(self) -> None:
        """Every worker stores its open incidents and hangs up; then they exit."""
        self._closing = True
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await asyncio.gather(*(worker.stop() for worker in self._workers))
        for relay in self._relays:
            await cancel_and_wait(relay)
        await self.loop_lag.stop()
        await self.cpu_load.stop()
        self._bus.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._dir, ignore_errors=True)
