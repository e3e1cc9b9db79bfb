"""Delivering alert events: to the store first, then to everyone else at once.

An alert anyone was told about is committed: the first sink is the alert store and must
succeed (with retries) before any other sink sees the event. The other sinks (the candidate's
data channel, the proctor-console bus) run concurrently, each under a timeout, so one that
fails or hangs never holds up or breaks the rest.

Dispatch one session's events in order (await each `dispatch`): the store sees an incident's
STARTED before its ENDED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from alerts.errors import AlertNotStored
from alerts.events import AlertEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveredAlert:
    """An engine event with the context every sink needs."""

    event: AlertEvent
    session_id: int
    exam_id: int
    alert_id: int | None = None
    """The stored row's id, filled in by the dispatcher from what the store returns."""
    evidence_path: str | None = None
    """Snapshot file kept as evidence, relative to the data directory, if any."""
    fence: int | None = None
    """The writer's hold on the attempt; the store refuses it once another writer holds it
    (`storage.ownership`). None: not checked."""


class AlertSink(Protocol):
    """Somewhere alerts go. A store returns the row id it saved; other sinks return None."""

    async def deliver(self, alert: DeliveredAlert) -> int | None: ...


def _name(sink: AlertSink) -> str:
    return getattr(sink, "name", None) or type(sink).__name__


class AlertDispatcher:
    """Sends each alert to `sinks[0]` (the store), then to the others concurrently."""

    def __init__(
        self,
        sinks: Sequence[AlertSink],
        *,
        store_attempts: int = 3,
        store_backoff: float = 0.25,
        store_timeout: float = 5.0,
        sink_timeout: float = 2.0,
        final_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        """`store_backoff` is the first retry delay, doubled on each further attempt. A store
        attempt that times out may still have committed, so the store must be idempotent per
        (incident_id, state) - an upsert by incident_id is. `final_errors`: store failures
        that trying again cannot mend (the attempt belongs to another node now)."""
        if not sinks:
            raise ValueError("sinks: expected the alert store first, got no sinks")
        if store_attempts < 1:
            raise ValueError(f"store_attempts: expected >= 1, got {store_attempts!r}")
        self._store, *others = sinks
        self._others = tuple(others)
        self._store_attempts = store_attempts
        self._store_backoff = store_backoff
        self._store_timeout = store_timeout
        self._sink_timeout = sink_timeout
        self._final_errors = final_errors

    async def dispatch(self, alert: DeliveredAlert) -> DeliveredAlert:
        """Store `alert`, then fan it out; returns it with `alert_id` set by the store.

        Raises AlertNotStored when the store failed on every attempt; nobody else saw it.
        Failures of the other sinks are logged and otherwise ignored.
        """
        stored = await self._stored(alert)
        await asyncio.gather(*(self._deliver(sink, stored) for sink in self._others))
        return stored

    async def _stored(self, alert: DeliveredAlert) -> DeliveredAlert:
        event = alert.event
        error: Exception | None = None
        attempt = 0
        for attempt in range(1, self._store_attempts + 1):
            try:
                async with asyncio.timeout(self._store_timeout):
                    alert_id = await self._store.deliver(alert)
            except Exception as exc:  # any failure of the store is retried the same way
                error = exc
                if isinstance(exc, self._final_errors):
                    break
                if attempt < self._store_attempts:
                    log.warning(
                        "session %s: storing %s %s (%s) failed, attempt %d of %d: %r",
                        alert.session_id,
                        event.kind,
                        event.state,
                        event.incident_id,
                        attempt,
                        self._store_attempts,
                        exc,
                    )
                    await asyncio.sleep(self._store_backoff * 2 ** (attempt - 1))
                continue
            return alert if alert_id is None else replace(alert, alert_id=alert_id)
        log.error(
            "session %s: ALERT NOT STORED and delivered nowhere: %s %s (%s) of exam %s, "
            "gave up after %d attempts",
            alert.session_id,
            event.kind,
            event.state,
            event.incident_id,
            alert.exam_id,
            attempt,
            exc_info=error,
        )
        raise AlertNotStored(event.incident_id, alert.session_id, attempt) from error

    async def _deliver(self, sink: AlertSink, alert: DeliveredAlert) -> bool:
        try:
            async with asyncio.timeout(self._sink_timeout):
                await sink.deliver(alert)
        except TimeoutError:
            log.error(
                "session %s: sink %s timed out after %.1f s on %s (%s)",
                alert.session_id,
                _name(sink),
                self._sink_timeout,
                alert.event.kind,
                alert.event.incident_id,
            )
            return False
        except Exception:  # one broken sink must not stop the others
            log.exception(
                "session %s: sink %s failed on %s (%s)",
                alert.session_id,
                _name(sink),
                alert.event.kind,
                alert.event.incident_id,
            )
            return False
        return True
