"""The live pipeline in worker processes (`PROCTOR_LIVE_WORKERS`): real processes, real
WebRTC peers on loopback, the real database. Candidates are spread over the workers and the
front process still sees everything: alerts on each page and in history, the console's
live events, thumbnails, messages, the end of an attempt, shutdown, a worker that dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from api.services import SERVICES
from core.settings import Settings
from live.worker_hub import WorkerHub
from storage.db import create_engine, session_factory
from storage.models import Alert
from tests.clips import CandidateClient
from tests.conftest import Api, ApiFactory
from tests.test_console_api import receive, ws_url
from tests.test_live_lifecycle import connect

pytestmark = pytest.mark.webrtc

EMPTY = ((0, 60, "empty"),)
RULES = {"no_face": {"start_after": 0.5}}


@pytest.fixture
def two_workers(settings: Settings) -> Settings:
    return replace(settings, live_workers=2, analysis_processes=2)


async def with_workers(make_api: ApiFactory, settings: Settings) -> tuple[Api, WorkerHub]:
    api = await make_api(settings)
    hub = api.client.app[SERVICES].live
    assert isinstance(hub, WorkerHub)
    return api, hub


async def exam_with_candidates(api: Api, *names: str) -> tuple[str, int, dict[str, Any]]:
    """(proctor token, exam id, {name: (token, session id)})."""
    proctor = await api.staff("proctor1")
    exam = await api.exam(proctor, rules_overrides=RULES)
    attempts = {}
    for name in names:
        token = await api.candidate(name)
        await api.enrol(proctor, exam["id"], name)
        session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", token)
        attempts[name] = (token, int(session["session_id"]))
    return proctor, int(exam["id"]), attempts


async def next_message(client: CandidateClient, wanted: Any, seconds: float) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            message = json.loads(await client.received.get())
            if wanted(message):
                return dict(message)


def is_alert(kind: str, state: str) -> Any:
    return lambda m: m.get("kind") == kind and m.get("state") == state


async def stored(settings: Settings, alert_id: int) -> Alert:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as db:
            return (await db.execute(select(Alert).where(Alert.id == alert_id))).scalar_one()
    finally:
        await engine.dispose()


async def test_candidates_spread_over_workers_and_the_front_sees_all(
    make_api: ApiFactory, two_workers: Settings
) -> None:
    api, hub = await with_workers(make_api, two_workers)
    proctor, exam_id, attempts = await exam_with_candidates(api, "ann", "bob")
    (ann_token, ann), (bob_token, bob) = attempts["ann"], attempts["bob"]
    clients: list[CandidateClient] = []
    try:
        async with api.client.ws_connect(await ws_url(api, exam_id, proctor)) as console:
            assert (await console.receive_json())["type"] == "snapshot"
            clients = [
                await connect(api, ann_token, ann, EMPTY),
                await connect(api, bob_token, bob, EMPTY),
            ]
            assert {hub.owner(ann), hub.owner(bob)} == {0, 1}  # one on each worker

            # Each page gets its own alert from its own worker...
            started = {
                sid: await next_message(client, is_alert("no_face", "started"), 10)
                for sid, client in zip((ann, bob), clients, strict=True)
            }
            # ... the console in the front process hears both ...
            heard: set[int] = set()
            while heard != {ann, bob}:
                message = await receive(console, lambda m: m["type"] == "alert")
                heard.add(message["session_id"])
            # ... and both are in the history.
            for sid, alert in started.items():
                page = await api.ok("GET", f"/alerts?session_id={sid}", proctor)
                assert alert["id"] in {a["id"] for a in page["alerts"]}

            overview = await api.ok("GET", f"/api/exams/{exam_id}/overview", proctor)
            assert {(s["session_id"], s["live"], s["connected"]) for s in overview["sessions"]} == {
                (ann, True, True),
                (bob, True, True),
            }
            stats = await api.ok("GET", "/api/stats/live", await api.admin())
            assert {s["session_id"] for s in stats["sessions"]} == {ann, bob}
            assert all(s["frames_analysed"] > 0 for s in stats["sessions"])

            status, jpeg = await api.call("GET", f"/api/sessions/{ann}/thumbnail", proctor)
            assert status == 200 and jpeg.startswith(b"\xff\xd8")
            sent = await api.ok(
                "POST", f"/api/sessions/{bob}/message", proctor, json={"text": "eyes up"}
            )
            assert sent["delivered"] is True
            note = await next_message(clients[1], lambda m: m.get("type") == "message", 5)
            assert note["text"] == "eyes up"

            # Ann submits: her worker closes her session and ends her open incident.
            await api.ok("POST", "/submit", ann_token, json={"session_id": ann, "answers": []})
            ended = await receive(
                console, lambda m: m["type"] == "session" and m["event"] == "ended"
            )
            assert ended["session"]["session_id"] == ann
            assert hub.owner(ann) is None
        await api.client.close()  # shutdown: Bob's worker stores his open incident
    finally:
        for client in clients:
            await client.close()
    for sid in (ann, bob):
        row = await stored(two_workers, started[sid]["id"])
        assert row.state == "ended" and row.ended_at is not None, sid


def incident_ended(message: dict[str, Any]) -> bool:
    return (
        message["type"] == "session"
        and message["event"] == "updated"
        and message["session"]["open_alerts"] == []
    )


async def test_a_worker_that_dies_is_restarted_and_its_candidate_comes_back(
    make_api: ApiFactory, two_workers: Settings
) -> None:
    api, hub = await with_workers(make_api, two_workers)
    proctor, exam_id, attempts = await exam_with_candidates(api, "cat")
    token, session_id = attempts["cat"]
    first = await connect(api, token, session_id, EMPTY)
    try:
        lost = await next_message(first, is_alert("no_face", "started"), 10)
        index = hub.owner(session_id)
        assert index is not None
        pid = hub.pids[index]
        assert pid is not None
        async with api.client.ws_connect(await ws_url(api, exam_id, proctor)) as console:
            [entry] = (await console.receive_json())["sessions"]
            assert [a["id"] for a in entry["open_alerts"]] == [lost["id"]]
            os.kill(pid, signal.SIGKILL)
            # The incident the worker held open is ended for it, and the console told.
            await receive(console, incident_ended, 30)
        async with asyncio.timeout(30):
            while hub.owner(session_id) is not None or hub.pids[index] == pid:
                await asyncio.sleep(0.1)
    finally:
        await first.close()
    row = await stored(two_workers, lost["id"])
    assert row.state == "ended" and row.ended_at is not None
    assert row.message.endswith("(monitoring interrupted)")
    # The page offers again, as it does when its connection fails, and is watched again.
    second = await connect(api, token, session_id, EMPTY)
    try:
        assert hub.owner(session_id) is not None
        again = await next_message(second, is_alert("no_face", "started"), 10)
        assert again["id"] != lost["id"]  # a new incident, the old one stays ended
    finally:
        await second.close()
