"""Where alerts go: the database (first, always), the candidate's data channel, the consoles."""

from __future__ import annotations

from collections.abc import Callable

from alerts.dispatch import DeliveredAlert
from live.bus import ConsoleBus
from live.clock import wall_time
from live.messages import AlertMessage
from signaling.peer import CandidatePeer
from storage.alert_store import upsert_alert
from storage.writer import AlertWriter


class StoreSink:
    """Commits the incident (one row, upserted by incident id) and returns the row id."""

    name = "database"

    def __init__(self, writer: AlertWriter) -> None:
        self._writer = writer

    async def deliver(self, alert: DeliveredAlert) -> int:
        event = alert.event
        return await self._writer.write(
            upsert_alert,
            event,
            session_id=alert.session_id,
            exam_id=alert.exam_id,
            started_at=wall_time(event.started_at),
            ended_at=None if event.ended_at is None else wall_time(event.ended_at),
            evidence_file=alert.evidence_path,
            fence=alert.fence,
        )


class ChannelSink:
    """Sends the alert to the candidate over the `proctor` data channel, when it is open."""

    name = "data_channel"

    def __init__(self, peer_of: Callable[[int], CandidatePeer | None]) -> None:
        self._peer_of = peer_of

    async def deliver(self, alert: DeliveredAlert) -> None:
        peer = self._peer_of(alert.session_id)
        if peer is not None:
            peer.send_json(AlertMessage.of(alert).to_json())


class ConsoleSink:
    """Publishes the alert to the proctor consoles watching the exam."""

    name = "console_bus"

    def __init__(self, bus: ConsoleBus) -> None:
        self._bus = bus

    async def deliver(self, alert: DeliveredAlert) -> None:
        self._bus.publish(alert.exam_id, AlertMessage.of(alert))
