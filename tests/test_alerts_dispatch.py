"""The dispatcher, with small real sinks: store first, others isolated from each other."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from alerts.dispatch import AlertDispatcher, AlertSink, DeliveredAlert
from alerts.errors import AlertNotStored
from alerts.events import AlertEvent, IncidentState, Severity
from core.kinds import AlertKind
from live.bus import ConsoleBus
from live.sinks import ConsoleSink

EVENT = AlertEvent(
    incident_id="abc123",
    kind=AlertKind.MULTIPLE_FACES,
    state=IncidentState.STARTED,
    severity=Severity.HIGH,
    started_at=12.0,
    ended_at=None,
    confidence=0.9,
    message="2 faces in view",
)
ALERT = DeliveredAlert(EVENT, session_id=41, exam_id=7, evidence_path="evidence/41/abc123.jpg")


@dataclass
class Journal:
    """Shared record of which sink saw what, in order."""

    entries: list[tuple[str, DeliveredAlert]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.entries]


class Store:
    """Fails `failures` times, then saves and returns a row id."""

    def __init__(self, journal: Journal, failures: int = 0) -> None:
        self.journal, self.failures, self.attempts = journal, failures, 0

    async def deliver(self, alert: DeliveredAlert) -> int:
        self.attempts += 1
        await asyncio.sleep(0.01)  # give a concurrent sink every chance to jump the queue
        if self.attempts <= self.failures:
            raise ConnectionError("database is locked")
        self.journal.entries.append(("store", alert))
        return 1000 + self.attempts


class Collect:
    def __init__(self, journal: Journal, name: str) -> None:
        self.journal, self.name = journal, name

    async def deliver(self, alert: DeliveredAlert) -> None:
        self.journal.entries.append((self.name, alert))


class Broken:
    name = "broken"

    async def deliver(self, alert: DeliveredAlert) -> None:
        raise RuntimeError("data channel closed")


class Hang:
    name = "hang"

    def __init__(self) -> None:
        self.cancelled = False

    async def deliver(self, alert: DeliveredAlert) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def fast(
    sinks: list[AlertSink],
    *,
    store_attempts: int = 3,
    store_timeout: float = 5.0,
    sink_timeout: float = 0.2,
) -> AlertDispatcher:
    return AlertDispatcher(
        sinks,
        store_attempts=store_attempts,
        store_backoff=0.01,
        store_timeout=store_timeout,
        sink_timeout=sink_timeout,
    )


async def test_store_first_then_everyone_else_with_the_row_id() -> None:
    journal = Journal()
    dispatcher = fast([Store(journal), Collect(journal, "channel"), Collect(journal, "console")])
    stored = await dispatcher.dispatch(ALERT)
    assert stored.alert_id == 1001
    assert journal.names()[0] == "store"
    assert sorted(journal.names()[1:]) == ["channel", "console"]
    assert journal.entries[0][1].alert_id is None  # the store is what assigns it
    assert all(alert == stored for name, alert in journal.entries[1:])


async def test_store_failure_is_retried_before_anyone_else_hears() -> None:
    journal = Journal()
    store = Store(journal, failures=2)
    stored = await fast([store, Collect(journal, "console")], store_attempts=3).dispatch(ALERT)
    assert store.attempts == 3
    assert journal.names() == ["store", "console"]
    assert stored.alert_id == 1003


async def test_store_that_keeps_failing_stops_delivery_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    store = Store(journal, failures=99)
    dispatcher = fast([store, Collect(journal, "console")], store_attempts=3)
    with pytest.raises(AlertNotStored) as error:
        await dispatcher.dispatch(ALERT)
    assert store.attempts == 3
    assert journal.entries == []  # an alert nobody stored is an alert nobody was told about
    assert (error.value.incident_id, error.value.session_id) == ("abc123", 41)
    assert isinstance(error.value.__cause__, ConnectionError)
    final = caplog.records[-1]
    assert final.levelno == logging.ERROR
    assert "ALERT NOT STORED" in final.getMessage() and "session 41" in final.getMessage()
    assert final.exc_info is not None


async def test_hanging_store_times_out_and_counts_as_a_failure() -> None:
    journal = Journal()
    dispatcher = fast([Hang(), Collect(journal, "console")], store_attempts=2, store_timeout=0.05)
    with pytest.raises(AlertNotStored):
        await dispatcher.dispatch(ALERT)
    assert journal.entries == []


async def test_a_failing_sink_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal()
    dispatcher = fast([Store(journal), Broken(), Collect(journal, "console")])
    stored = await dispatcher.dispatch(ALERT)
    assert journal.names() == ["store", "console"]
    assert stored.alert_id == 1001
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "session 41" in record.getMessage() and "broken" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


async def test_a_hanging_sink_is_cut_off_and_the_others_are_not_kept_waiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    hang = Hang()
    dispatcher = fast([Store(journal), hang, Collect(journal, "console")], sink_timeout=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(2):
        await dispatcher.dispatch(ALERT)
    assert loop.time() - started < 1.0
    assert journal.names() == ["store", "console"]
    assert hang.cancelled
    assert any("hang" in r.getMessage() and "timed out" in r.getMessage() for r in caplog.records)


async def test_sinks_are_delivered_concurrently() -> None:
    class Slow:
        def __init__(self) -> None:
            self.name = "slow"

        async def deliver(self, alert: DeliveredAlert) -> None:
            await asyncio.sleep(0.15)

    dispatcher = fast([Store(Journal()), Slow(), Slow(), Slow()], sink_timeout=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await dispatcher.dispatch(ALERT)
    assert loop.time() - started < 0.4  # not 3 x 0.15 in a row


async def test_console_sink_publishes_to_the_exams_consoles_without_file_paths() -> None:
    bus = ConsoleBus()
    async with bus.subscribe(7) as console, bus.subscribe(8) as other:
        await fast([Store(Journal()), ConsoleSink(bus)]).dispatch(ALERT)
        async with asyncio.timeout(1):
            message = (await anext(console)).to_json()
        started_at = message.pop("started_at")
        assert datetime.fromisoformat(str(started_at)).tzinfo is not None  # wall time for people
        assert message == {
            "type": "alert",
            "id": 1001,
            "incident_id": "abc123",
            "session_id": 41,
            "kind": "multiple_faces",
            "state": "started",
            "severity": "high",
            "ended_at": None,
            "confidence": 0.9,
            "message": "2 faces in view",
            "evidence_url": "/api/alerts/1001/evidence",
        }
        assert other.pending == 0


def test_a_dispatcher_needs_a_store() -> None:
    with pytest.raises(ValueError, match="sinks"):
        AlertDispatcher([])
