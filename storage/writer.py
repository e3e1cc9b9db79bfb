"""Alert writes that never hold SQLite's write lock across event-loop round trips.

SQLite has one write lock for the whole database, shared by every process (the front and
each live worker). Through aiosqlite every statement of a transaction is a round trip
through the event loop, so a transaction held the lock for as long as its loop ran late;
at 100 candidates on 2 cores stores queued behind it for over 5 s and timed out
(BENCHMARKS.md). Here a SQLite write runs whole in one thread with a plain connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from storage.db import create_sync_engine

__all__ = ["AlertWriter"]

P = ParamSpec("P")
T = TypeVar("T")


class AlertWriter:
    """Runs a synchronous write, `fn(session, ...)`, which commits, to its end.

    With SQLite, in a thread of its own (one per process: SQLite takes one writer at a
    time anyway); with any other database, through the async session's `run_sync`. Either
    way shielded: a caller that stops waiting (a timeout) never cuts a transaction off
    half-way, which would leave its connection holding the lock.
    """

    def __init__(
        self, url: str, db: async_sessionmaker[AsyncSession], *, in_thread: bool | None = None
    ) -> None:
        """`in_thread`: None decides by the URL (SQLite in a thread)."""
        self._db = db
        self._pending: set[asyncio.Future[Any]] = set()
        if in_thread is None:
            in_thread = url.startswith("sqlite+aiosqlite")
        self._engine = create_sync_engine(url) if in_thread else None
        self._sync = None if self._engine is None else sessionmaker(self._engine)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="db-writer")

    async def write(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        future: asyncio.Future[T]
        if self._sync is not None:
            sync = self._sync

            def in_thread() -> T:
                with sync() as session:
                    return fn(session, *args, **kwargs)

            future = asyncio.get_running_loop().run_in_executor(self._thread, in_thread)
        else:

            async def through_loop() -> T:
                async with self._db() as session:
                    return await session.run_sync(fn, *args, **kwargs)

            future = asyncio.ensure_future(through_loop())
        self._pending.add(future)
        future.add_done_callback(self._finished)
        return await asyncio.shield(future)

    def _finished(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled():
            future.exception()  # seen: a write nobody waits for any more was retried

    async def close(self) -> None:
        """Wait for the writes under way, then let go of the connection."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        self._thread.shutdown(wait=True)
        if self._engine is not None:
            self._engine.dispose()
