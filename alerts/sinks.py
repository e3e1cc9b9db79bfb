"""Sinks from this package for the dispatcher; the store lives in `storage/`."""

from __future__ import annotations

from alerts.bus import AlertBus
from alerts.dispatch import DeliveredAlert

ALERT = "alert"
"""The "type" of alert messages on the bus."""


class BusSink:
    """Publishes each alert to the proctor consoles watching its exam."""

    name = "bus"

    def __init__(self, bus: AlertBus) -> None:
        self._bus = bus

    async def deliver(self, alert: DeliveredAlert) -> None:
        self._bus.publish(alert.exam_id, {"type": ALERT, **alert.to_dict()})
