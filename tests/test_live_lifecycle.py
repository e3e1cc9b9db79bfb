"""Connection lifecycle: a dropped stream raises stream_lost and can resume; a new offer
replaces the old connection; shutdown ends open incidents and stores them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from api.services import SERVICES
from core.settings import Settings
from storage.db import create_engine, session_factory
from storage.models import Alert
from tests.clips import CandidateClient, Clip, ClipVideoTrack
from tests.conftest import Api
from tests.test_live_pipeline import enrolled_candidate_with_session

pytestmark = pytest.mark.webrtc


async def connect(api: Api, token: str, session_id: int, scene: Any) -> CandidateClient:
    client = CandidateClient(ClipVideoTrack(Clip(scene, fps=15), loop=True))
    answer = await api.ok(
        "POST",
        f"/api/sessions/{session_id}/offer",
        token,
        json={"sdp": await client.offer(), "type": "offer"},
    )
    await client.accept_answer(answer["sdp"])
    async with asyncio.timeout(10):
        await client.channel_open.wait()
    return client


async def next_alert(
    client: CandidateClient, kind: str, state: str, seconds: float
) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            message = json.loads(await client.received.get())
            if message["kind"] == kind and message["state"] == state:
                return dict(message)


async def test_dropped_stream_raises_stream_lost_and_reconnect_resumes(api: Api) -> None:
    token, session_id = await enrolled_candidate_with_session(api, {})
    first = await connect(api, token, session_id, ((0, 60, "candidate"),))
    await first.close()  # the candidate's network goes away

    services = api.client.app[SERVICES]
    async with asyncio.timeout(15):
        while True:
            page = await api.ok("GET", f"/alerts?session_id={session_id}&kind=stream_lost", token)
            if page["total"]:
                break
            await asyncio.sleep(0.3)
    lost = page["alerts"][0]
    assert lost["state"] == "started" and lost["ended_at"] is None
    assert (await api.ok("GET", f"/api/sessions/{session_id}", token))["status"] == "active"

    second = await connect(api, token, session_id, ((0, 60, "candidate"),))
    try:
        async with asyncio.timeout(10):
            while (await api.ok("GET", f"/api/alerts/{lost['id']}", token))["state"] != "ended":
                await asyncio.sleep(0.3)
        assert services.live is not None and len(services.live.peers) == 1
    finally:
        await second.close()


async def test_new_offer_replaces_the_old_connection(api: Api) -> None:
    token, session_id = await enrolled_candidate_with_session(api, {})
    first = await connect(api, token, session_id, ((0, 60, "candidate"),))
    second = await connect(api, token, session_id, ((0, 60, "candidate"),))
    try:
        async with asyncio.timeout(10):
            while first.pc.connectionState not in ("closed", "failed"):
                await asyncio.sleep(0.1)
        services = api.client.app[SERVICES]
        assert services.live is not None
        peer = services.live.peers.get(session_id)
        assert peer is not None and peer.connection_state == "connected"
    finally:
        await first.close()
        await second.close()


async def test_shutdown_ends_and_stores_open_incidents(make_api: Any, settings: Settings) -> None:
    api = await make_api(settings)
    token, session_id = await enrolled_candidate_with_session(
        api, {"no_face": {"start_after": 0.5}}
    )
    client = await connect(api, token, session_id, ((0, 60, "empty"),))
    try:
        started = await next_alert(client, "no_face", "started", 10)
        await api.client.close()  # server shutdown: peers closed, alerts flushed, db closed
    finally:
        await client.close()
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as db:
            row = (await db.execute(select(Alert).where(Alert.id == started["id"]))).scalar_one()
        assert row.state == "ended" and row.ended_at is not None
    finally:
        await engine.dispose()


async def test_evidence_is_only_for_those_who_may_see_the_alert(api: Api) -> None:
    token, session_id = await enrolled_candidate_with_session(
        api, {"no_face": {"start_after": 0.5}}
    )
    client = await connect(api, token, session_id, ((0, 60, "empty"),))
    try:
        started = await next_alert(client, "no_face", "started", 10)
    finally:
        await client.close()
    url = started["evidence_url"]
    assert url == f"/api/alerts/{started['id']}/evidence"
    status, image = await api.call("GET", url, token)
    assert status == 200 and image[:3] == b"\xff\xd8\xff"
    stranger = await api.candidate("stranger")
    assert (await api.call("GET", url, stranger))[0] == 404
    other_proctor = await api.staff("proctor7")
    assert (await api.call("GET", url, other_proctor))[0] == 404
    assert (await api.call("GET", url))[0] == 401


async def test_browser_events_from_the_page_become_alerts(api: Api) -> None:
    token, session_id = await enrolled_candidate_with_session(
        api, {"focus_lost": {"start_after": 0.5}}
    )
    client = await connect(api, token, session_id, ((0, 60, "candidate"),))
    try:
        client.channel.send(json.dumps({"type": "clipboard", "action": "paste"}))
        pasted = await next_alert(client, "copy_paste", "ended", 5)
        assert pasted["message"] == "paste in the exam page"
        client.channel.send(json.dumps({"type": "focus", "state": "lost"}))
        client.channel.send(json.dumps({"type": "nonsense", "state": 1}))  # ignored
        lost = await next_alert(client, "focus_lost", "started", 5)
        client.channel.send(json.dumps({"type": "focus", "state": "back"}))
        back = await next_alert(client, "focus_lost", "ended", 5)
        assert back["incident_id"] == lost["incident_id"]
    finally:
        await client.close()
    kinds = {
        a["kind"]
        for a in (await api.ok("GET", f"/alerts?session_id={session_id}", token))["alerts"]
    }
    assert kinds == {"copy_paste", "focus_lost"}


async def test_video_that_stops_while_connected_is_a_lost_stream(api: Api) -> None:
    token, session_id = await enrolled_candidate_with_session(api, {})
    client = CandidateClient(ClipVideoTrack(Clip(((0, 1.5, "candidate"),), fps=15)))  # ends
    answer = await api.ok(
        "POST",
        f"/api/sessions/{session_id}/offer",
        token,
        json={"sdp": await client.offer(), "type": "offer"},
    )
    await client.accept_answer(answer["sdp"])
    try:
        lost = await next_alert(client, "stream_lost", "started", 10)
        assert client.pc.connectionState == "connected"  # ICE is up; the camera is not
        assert "down for more than" in lost["message"]
    finally:
        await client.close()


async def test_attempts_past_their_deadline_expire_and_hang_up(api: Api) -> None:
    from datetime import timedelta

    from api.attempts import expire_overdue
    from storage.models import ExamSession, utcnow

    token, session_id = await enrolled_candidate_with_session(api, {})
    client = await connect(api, token, session_id, ((0, 60, "candidate"),))
    services = api.client.app[SERVICES]
    try:
        assert await expire_overdue(services) == 0
        async with services.db() as db:
            row = await db.get(ExamSession, session_id)
            assert row is not None
            row.deadline_at = utcnow() - timedelta(minutes=1)
            await db.commit()
        assert await expire_overdue(services) == 1
        async with asyncio.timeout(10):
            while client.pc.connectionState != "closed":
                await asyncio.sleep(0.1)
    finally:
        await client.close()
    assert (await api.ok("GET", f"/api/sessions/{session_id}", token))["status"] == "expired"
