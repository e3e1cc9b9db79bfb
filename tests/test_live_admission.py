"""Admission: a full or overloaded server refuses new live candidates (503, Retry-After)
instead of taking them and then dropping everyone; candidates already live keep their place."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from live.admission import Admission, LoopLag
from tests.clips import CandidateClient, Clip, ClipVideoTrack
from tests.conftest import Api

pytestmark = pytest.mark.webrtc

DATA = Path(__file__).parent / "data"
SCENE = ((0, 60, "candidate"),)


async def start_attempt(api: Api, proctor: str, exam_id: int, username: str) -> tuple[str, int]:
    token = await api.candidate(username)
    photo = (DATA / "obama2.jpg").read_bytes()
    await api.ok(
        "PUT", "/api/me/reference-photo", token, data=photo, headers={"Content-Type": "image/jpeg"}
    )
    await api.enrol(proctor, exam_id, username)
    session = await api.ok("POST", f"/api/exams/{exam_id}/sessions", token)
    return token, int(session["session_id"])


async def offer(api: Api, token: str, session_id: int) -> tuple[int, Any, dict[str, str], Any]:
    client = CandidateClient(ClipVideoTrack(Clip(SCENE, fps=15), loop=True))
    response = await api.client.post(
        f"/api/sessions/{session_id}/offer",
        headers={"Authorization": f"Bearer {token}"},
        json={"sdp": await client.offer(), "type": "offer"},
    )
    body = await response.json()
    if response.status == 200:
        await client.accept_answer(body["sdp"])
    return response.status, body, dict(response.headers), client


async def test_full_server_refuses_new_candidates_but_takes_back_its_own(
    make_api: Any, settings: Settings
) -> None:
    api = await make_api(replace(settings, max_live_sessions=1))
    proctor = await api.staff("proctor1")
    exam = await api.exam(proctor)
    alice, alice_session = await start_attempt(api, proctor, exam["id"], "alice")
    bob, bob_session = await start_attempt(api, proctor, exam["id"], "bobby")
    clients = []
    try:
        status, _, _, client = await offer(api, alice, alice_session)
        clients.append(client)
        assert status == 200

        status, body, headers, client = await offer(api, bob, bob_session)
        clients.append(client)
        assert status == 503 and body["error"]["code"] == "server_busy"
        assert "maximum of 1 candidates" in body["error"]["message"]
        assert body["error"]["retry_after"] == 15 and headers["Retry-After"] == "15"

        # Alice's network blips: her new offer is taken, she was already being watched.
        status, _, _, client = await offer(api, alice, alice_session)
        clients.append(client)
        assert status == 200

        # Alice submits: her place is free, and Bob gets in.
        await api.ok("POST", "/submit", alice, json={"session_id": alice_session, "answers": []})
        status, _, _, client = await offer(api, bob, bob_session)
        clients.append(client)
        assert status == 200
        stats = await api.ok("GET", "/api/stats/live", await api.admin())
        assert stats["offers_refused"] == 1 and stats["loop_lag_s"] < 0.25
    finally:
        for client in clients:
            await client.close()


async def test_a_late_event_loop_refuses_until_it_has_caught_up() -> None:
    lag = LoopLag(interval=0.05, window=1.0)
    admission = Admission(lag, max_lag=0.25)
    lag.start()
    try:
        await asyncio.sleep(0.2)
        assert admission.refusal(live_sessions=10) is None
        time.sleep(0.5)  # noqa: ASYNC251 - the loop is blocked, as by a burst of work
        await asyncio.sleep(0.1)
        assert lag.worst() >= 0.4
        reason = admission.refusal(live_sessions=10)
        assert reason is not None and "overloaded" in reason
        await asyncio.sleep(1.1)  # the window has passed with the loop on time
        assert admission.refusal(live_sessions=10) is None
        assert admission.refused == 1
    finally:
        await lag.stop()
