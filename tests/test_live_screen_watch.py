"""The server's own judgement of the screen share, from what each connection carries: a
real aiortc peer offers the camera alone, then camera and screen, then the camera alone
again, to an exam that records the screen; the page's reports play no part."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from alerts.engine import RuleEngine
from alerts.presets import resolve_rules
from core.kinds import AlertKind
from core.settings import Settings
from live.screen_watch import ScreenWatch
from tests.clips import CandidateClient, Clip, ClipVideoTrack
from tests.conftest import Api, ApiFactory

RULES = {"screen_share_stopped": {"start_after": 0.5}}
CAMERA = ((0, 60, "candidate"),)
SCREEN = ((0, 60, "empty"),)


def test_a_missing_screen_counts_after_the_first_grace_then_at_once() -> None:
    watch = ScreenWatch(grace=60.0)
    engine = RuleEngine(resolve_rules("normal", None))
    watch.connected(has_screen=False, now=0.0)  # the candidate is still picking the screen
    assert watch.observations(59.0) == []
    watch.connected(has_screen=False, now=30.0)  # a reconnection does not restart the grace
    [missing] = watch.observations(60.0)
    assert (missing.kind, missing.active, missing.ts) == (
        AlertKind.SCREEN_SHARE_STOPPED,
        True,
        60.0,
    )
    assert missing.message == "the screen was not shared within 60 s of connecting"
    assert watch.observations(61.0) == []  # LEVEL: said once
    engine.feed(missing)
    [started] = engine.tick(62.1)  # the normal preset's 2 s debounce
    watch.connected(has_screen=True, now=70.0)
    [back] = watch.observations(70.5)
    assert back.active is False
    [ended] = engine.feed(back)
    assert (started.incident_id, str(ended.state)) == (ended.incident_id, "ended")
    watch.connected(has_screen=False, now=80.0)  # once seen, its absence counts at once
    [gone] = watch.observations(80.0)
    assert gone.active and gone.message == "the candidate's connection no longer carries the screen"


async def connect(api: Api, token: str, session_id: int, screen: bool) -> CandidateClient:
    camera = ClipVideoTrack(Clip(CAMERA, fps=10), loop=True)
    client = CandidateClient(camera)
    if screen:  # the page adds the screen as a second video track, after the camera's
        client.pc.addTransceiver(ClipVideoTrack(Clip(SCREEN, fps=2), loop=True), "sendonly")
    body = {"sdp": await client.offer(), "type": "offer"}
    answer = await api.ok("POST", f"/api/sessions/{session_id}/offer", token, json=body)
    await client.accept_answer(answer["sdp"])
    return client


async def next_screen_alert(client: CandidateClient, state: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            message = json.loads(await client.received.get())
            if message.get("kind") == "screen_share_stopped" and message["state"] == state:
                return dict(message)


@pytest.mark.webrtc
async def test_the_server_sees_the_screen_missing_from_the_connection(
    make_api: ApiFactory, settings: Settings
) -> None:
    api = await make_api(replace(settings, screen_share_grace_seconds=1.0))
    proctor = await api.staff("proctor1")
    token = await api.candidate("casey")
    exam = await api.exam(proctor, rules_overrides=RULES, record_screen=True)
    await api.enrol(proctor, exam["id"], "casey")
    session_id = int(
        (await api.ok("POST", f"/api/exams/{exam['id']}/sessions", token))["session_id"]
    )
    clients = [await connect(api, token, session_id, screen=False)]
    try:
        started = await next_screen_alert(clients[0], "started")
        assert started["message"] == "the screen was not shared within 1 s of connecting"
        clients.append(await connect(api, token, session_id, screen=True))
        ended = await next_screen_alert(clients[1], "ended")
        assert ended["incident_id"] == started["incident_id"]
        await asyncio.sleep(2.0)  # the screen flows: nothing more is raised
        clients.append(await connect(api, token, session_id, screen=False))
        again = await next_screen_alert(clients[2], "started")
        assert again["message"] == "the candidate's connection no longer carries the screen"
    finally:
        for client in clients:
            await client.close()
    history = await api.ok(
        "GET", f"/alerts?session_id={session_id}&kind=screen_share_stopped", proctor
    )
    assert history["total"] == 2
