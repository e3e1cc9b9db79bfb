"""Fencing: a node that lost an attempt (another took it) can no longer store alerts for
it, so it can no longer tell anyone about them either."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alerts.dispatch import AlertDispatcher, DeliveredAlert
from alerts.errors import AlertNotStored
from alerts.events import IncidentState
from api.services import SERVICES
from live.sinks import StoreSink
from storage.models import Alert
from storage.ownership import Fenced, claim, holder, release
from storage.writer import AlertWriter
from tests.conftest import Api
from tests.test_console_api import exam_with_candidate
from tests.test_storage_alert_writes import no_face


class Told:
    """A sink that records what it was given (the page, the consoles)."""

    name = "told"

    def __init__(self) -> None:
        self.alerts: list[DeliveredAlert] = []

    async def deliver(self, alert: DeliveredAlert) -> None:
        self.alerts.append(alert)


async def test_a_stale_fence_is_refused_and_nobody_is_told(api: Api) -> None:
    _, _, exam_id, session_id = await exam_with_candidate(api)
    services = api.client.app[SERVICES]
    async with services.db() as db:
        first = await claim(db, session_id, "node-a")
        second = await claim(db, session_id, "node-b")  # node b takes the attempt over
        assert second == first + 1
        assert await holder(db, session_id) == ("node-b", second)
    writer = AlertWriter(services.settings.resolved_database_url, services.db)
    told = Told()
    dispatcher = AlertDispatcher([StoreSink(writer), told], final_errors=(Fenced,))
    try:
        stale = DeliveredAlert(no_face(IncidentState.STARTED), session_id, exam_id, fence=first)
        with pytest.raises(AlertNotStored):
            await dispatcher.dispatch(stale)
        forged = DeliveredAlert(no_face(IncidentState.STARTED), session_id, exam_id, fence=99)
        with pytest.raises(AlertNotStored):
            await dispatcher.dispatch(forged)
        assert told.alerts == []
        held = DeliveredAlert(no_face(IncidentState.STARTED), session_id, exam_id, fence=second)
        stored = await dispatcher.dispatch(held)
        assert told.alerts == [stored] and stored.alert_id is not None
    finally:
        await writer.close()
    async with services.db() as db:
        count = await db.execute(select(func.count()).select_from(Alert))
        assert count.scalar_one() == 1  # the refused writes left nothing behind
        assert not await release(db, session_id, "node-a", first)  # not a's to let go
        assert await release(db, session_id, "node-b", second)
        assert await holder(db, session_id) == (None, second)
