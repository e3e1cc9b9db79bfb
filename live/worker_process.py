"""One live worker process: a `LiveHub` answering `live.protocol` requests on a Unix socket.

The front process (`live.worker_hub.WorkerHub`) has already checked the caller, the attempt
and its state; it asks here for what only the process holding the peer can do. Media never
passes through the front: the SDP answer carries this process's own ICE candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from aiohttp import web

from core.settings import Settings
from live.hub import LiveHub
from live.rpc import serve_rpc
from storage.blobs import blob_store
from storage.db import create_engine, session_factory

__all__ = ["run_worker"]

logger = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 1.0


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
    blobs = blob_store(settings.data_dir, settings.clustered, db)
    hub = LiveHub(settings, db, blobs, measure_cpu=False)  # the front measures the tree
    app = web.Application(client_max_size=settings.max_body_bytes)
    serve_rpc(app, hub.ask, hub.bus)
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
