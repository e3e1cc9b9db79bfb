"""Alert writes through the real engine: a write whose caller stops waiting still commits,
and leaves the database free for the next writer."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import select

from alerts.dispatch import DeliveredAlert
from alerts.events import AlertEvent, IncidentState, Severity
from api.services import SERVICES
from core.kinds import AlertKind
from live.sinks import StoreSink
from storage.models import Alert
from storage.writer import AlertWriter
from tests.conftest import Api
from tests.test_console_api import exam_with_candidate


def no_face(state: IncidentState, incident_id: str | None = None) -> AlertEvent:
    now = time.monotonic()
    return AlertEvent(
        incident_id=incident_id or uuid.uuid4().hex,
        kind=AlertKind.NO_FACE,
        state=state,
        severity=Severity.HIGH,
        started_at=now - 5.0,
        ended_at=now if state is IncidentState.ENDED else None,
        confidence=0.9,
        message="no face in view",
    )


@pytest.mark.parametrize("in_thread", [True, False], ids=["sqlite-thread", "async-session"])
async def test_a_write_cut_off_by_a_timeout_still_commits_and_frees_the_database(
    api: Api, in_thread: bool, database: str
) -> None:
    if in_thread and database != "sqlite":
        in_thread = False  # the thread holds a plain SQLite connection: SQLite's own path
    proctor, _, exam_id, session_id = await exam_with_candidate(api)
    services = api.client.app[SERVICES]
    writer = AlertWriter(services.settings.resolved_database_url, services.db, in_thread=in_thread)
    sink = StoreSink(writer)
    first = no_face(IncidentState.STARTED)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.0005):  # the dispatcher's store timeout, made tiny
            await sink.deliver(DeliveredAlert(first, session_id, exam_id))

    async with asyncio.timeout(5):
        while True:
            async with services.db() as db:
                query = select(Alert).where(Alert.incident_id == first.incident_id)
                if (await db.execute(query)).scalar_one_or_none() is not None:
                    break
            await asyncio.sleep(0.05)
    # The next writer is not kept waiting by a transaction left open.
    async with asyncio.timeout(2):
        ended = no_face(IncidentState.ENDED, first.incident_id)
        alert_id = await sink.deliver(DeliveredAlert(ended, session_id, exam_id))
    await writer.close()
    page = await api.ok("GET", f"/alerts?session_id={session_id}", proctor)
    assert [(a["id"], a["state"]) for a in page["alerts"]] == [(alert_id, "ended")]
    session = await api.ok("GET", f"/api/sessions/{session_id}", proctor)
    assert session["risk_score"] > 0
