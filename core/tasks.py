"""Background tasks that cannot die silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["cancel_and_wait", "spawn"]

T = TypeVar("T")


def spawn(coro: Coroutine[Any, Any, T], *, name: str, logger: logging.Logger) -> asyncio.Task[T]:
    """Start `coro` as a task whose unexpected exception is logged when it ends.

    asyncio only reports an unretrieved task exception when the task is garbage collected,
    if ever; a reader loop that dies that way just stops delivering frames. Cancellation is
    the normal way to stop these tasks and is not logged.
    """
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(lambda t: _log_failure(t, logger))
    return task


def _log_failure(task: asyncio.Task[Any], logger: logging.Logger) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=exc)


async def cancel_and_wait(task: asyncio.Task[object]) -> None:
    """Cancel `task` and wait until it has ended (its own failure is logged by `spawn`)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
