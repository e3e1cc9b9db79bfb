"""Where alerts go: the database (first, always), the candidate's data channel, the consoles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.bus import AlertBus
from alerts.dispatch import DeliveredAlert
from live.clock import iso, wall_time
from signaling.peer import CandidatePeer
from storage.alert_store import upsert_alert


def alert_message(alert: DeliveredAlert) -> dict[str, Any]:
    """The public form of an alert event: what the page and the consoles receive."""
    event = alert.event
    return {
        "type": "alert",
        "id": alert.alert_id,
        "incident_id": event.incident_id,
        "session_id": alert.session_id,
        "kind": str(event.kind),
        "severity": str(event.severity),
        "state": str(event.state),
        "started_at": iso(event.started_at),
        "ended_at": iso(event.ended_at),
        "message": event.message,
        "confidence": round(event.confidence, 3),
        "evidence_url": f"/api/alerts/{alert.alert_id}/evidence" if alert.evidence_path else None,
    }


class StoreSink:
    """Commits the incident (one row, upserted by incident id) and returns the row id."""

    name = "database"

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db
        self._writing: set[asyncio.Task[int]] = set()

    async def deliver(self, alert: DeliveredAlert) -> int:
        """Shielded: a timeout gives up waiting, never the transaction. A transaction cut off
        half-way kept its connection's write lock, and then every writer of every process
        waited on it, and timed out in turn (seen at 100 candidates, BENCHMARKS.md)."""
        write = asyncio.get_running_loop().create_task(self._write(alert))
        self._writing.add(write)
        write.add_done_callback(self._written)
        return await asyncio.shield(write)

    def _written(self, write: asyncio.Task[int]) -> None:
        self._writing.discard(write)
        if not write.cancelled():
            write.exception()  # marked seen: a write nobody waits for any more was retried

    async def _write(self, alert: DeliveredAlert) -> int:
        event = alert.event
        async with self._db() as db:
            row = await upsert_alert(
                db,
                event,
                session_id=alert.session_id,
                exam_id=alert.exam_id,
                started_at=wall_time(event.started_at),
                ended_at=None if event.ended_at is None else wall_time(event.ended_at),
                evidence_file=alert.evidence_path,
            )
            await db.commit()
            return row.id


class ChannelSink:
    """Sends the alert to the candidate over the `proctor` data channel, when it is open."""

    name = "data_channel"

    def __init__(self, peer_of: Callable[[int], CandidatePeer | None]) -> None:
        self._peer_of = peer_of

    async def deliver(self, alert: DeliveredAlert) -> None:
        peer = self._peer_of(alert.session_id)
        if peer is not None:
            peer.send_json(alert_message(alert))


class ConsoleSink:
    """Publishes the alert to the proctor consoles watching the exam."""

    name = "console_bus"

    def __init__(self, bus: AlertBus) -> None:
        self._bus = bus

    async def deliver(self, alert: DeliveredAlert) -> None:
        self._bus.publish(alert.exam_id, alert_message(alert))
