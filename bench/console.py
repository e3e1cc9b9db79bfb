"""`--console`: a proctor watching the live exam, as the console page does, on the first
server (in a cluster, every other node's candidates reach it through Redis): its WebSocket
(`/api/exams/{id}/live`) open for the whole live phase, messages counted by type."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp


async def watch_console(
    http: aiohttp.ClientSession, base_url: str, token: str, exam_id: int, stop_at: float
) -> dict[str, Any]:
    """Reads the console until `stop_at`; what it got, or the error that ended it."""
    counts: dict[str, int] = {}
    error = None
    url = f"{base_url}/api/exams/{exam_id}/live"
    try:
        async with http.ws_connect(url, headers={"Authorization": f"Bearer {token}"}) as ws:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(_loop_deadline(stop_at)):
                    async for message in ws:
                        if message.type != aiohttp.WSMsgType.TEXT:
                            break
                        kind = str(message.json().get("type"))
                        counts[kind] = counts.get(kind, 0) + 1
    except (aiohttp.ClientError, ValueError) as failure:
        error = f"{type(failure).__name__}: {failure}"
    return {"messages_by_type": counts, "error": error}


def _loop_deadline(monotonic_instant: float) -> float:
    """A `time.monotonic()` instant on the running loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_instant - time.monotonic())
