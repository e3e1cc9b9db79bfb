"""Starting, watching and stopping the live worker processes (the front's side)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import time
from multiprocessing.process import BaseProcess

import aiohttp

from core.settings import Settings
from live.protocol import LiveRefused, Stats
from live.rpc import RpcClient
from live.worker_process import run_worker

__all__ = ["LiveWorker"]

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 60.0
"""A worker imports aiortc and the detectors before it answers: a few seconds, more on a
busy machine."""
STOP_TIMEOUT_SECONDS = 20.0
"""Time a worker gets to store its open incidents and hang up before it is killed."""


class LiveWorker:
    """One worker process and the client that asks it (`rpc`)."""

    def __init__(self, index: int, settings: Settings, socket_path: str) -> None:
        self.index = index
        self.settings = settings
        self.socket_path = socket_path
        self.process: BaseProcess | None = None
        self.rpc = RpcClient(aiohttp.UnixConnector(path=socket_path), f"live worker {index}")
        self.ready = False
        """Started and answering; new sessions only go to ready workers."""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

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

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if not self.alive:
                code = None if self.process is None else self.process.exitcode
                raise RuntimeError(f"live worker {self.index} exited at start (code {code})")
            if os.path.exists(self.socket_path):  # noqa: ASYNC240 (a stat, every 0.1 s)
                with contextlib.suppress(LiveRefused):
                    await self.rpc.ask(Stats())
                    self.ready = True
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"live worker {self.index} did not start within 60 s")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """SIGTERM: the worker stores its open incidents and exits; killed if it hangs."""
        process = self.process
        if process is not None and process.is_alive():
            process.terminate()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, process.join, STOP_TIMEOUT_SECONDS)
            if process.is_alive():
                logger.error("live worker %d did not stop in time; killed", self.index)
                process.kill()
                await loop.run_in_executor(None, process.join)
        await self.rpc.close()
