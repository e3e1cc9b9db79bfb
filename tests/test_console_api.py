"""The console's server side: who may call it, what bad input gets, and the live WebSocket
(snapshot first, then alerts and status changes as they happen)."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
from sqlalchemy import text

from api.services import SERVICES
from core.settings import Settings
from live.messages import ConsoleMessage, SessionChanged
from storage.db import create_engine
from tests.clips import DATA
from tests.conftest import Api


async def exam_with_candidate(
    api: Api, rules: dict[str, Any] | None = None
) -> tuple[str, str, int, int]:
    """(proctor token, candidate token, exam id, session id)."""
    proctor = await api.staff("proctor1")
    candidate = await api.candidate("carla")
    exam = await api.exam(proctor, rules_overrides=rules or {})
    await api.enrol(proctor, exam["id"], "carla")
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    return proctor, candidate, int(exam["id"]), int(session["session_id"])


async def upload(api: Api, token: str, session_id: int, name: str) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("session_id", str(session_id))
    form.add_field("image", (DATA / name).read_bytes(), filename=name, content_type="image/jpeg")
    return dict(await api.ok("POST", "/upload-frame", token, data=form))


def error_code(body: Any) -> str:
    return str(body["error"]["code"])


async def test_roles_and_ownership_are_checked(api: Api) -> None:
    proctor, candidate, exam_id, session_id = await exam_with_candidate(api)
    stranger = await api.staff("proctor2")  # a proctor not assigned to this exam
    admin = await api.admin()
    offer = {"sdp": "v=0", "type": "offer"}
    calls = [
        ("GET", f"/api/exams/{exam_id}/overview", None),
        ("GET", f"/api/sessions/{session_id}/thumbnail", None),
        ("POST", f"/api/sessions/{session_id}/message", {"text": "hello"}),
        ("POST", f"/api/sessions/{session_id}/watch", offer),
    ]
    for method, path, body in calls:
        status, answer = await api.call(method, path, None, json=body)
        assert status == 401 and error_code(answer) == "unauthorized", path
        status, answer = await api.call(method, path, candidate, json=body)
        assert status == 403 and error_code(answer) == "forbidden", path
        status, answer = await api.call(method, path, stranger, json=body)
        assert status == 404 and error_code(answer) == "not_found", path
    # The assigned proctor and the admin see the session, though nothing is live yet.
    for token in (proctor, admin):
        overview = await api.ok("GET", f"/api/exams/{exam_id}/overview", token)
        assert [s["session_id"] for s in overview["sessions"]] == [session_id]
        assert overview["sessions"][0]["username"] == "carla"
        assert overview["sessions"][0]["connected"] is False
        status, answer = await api.call("GET", f"/api/sessions/{session_id}/thumbnail", token)
        assert status == 404 and error_code(answer) == "no_frame"
        status, answer = await api.call(
            "POST", f"/api/sessions/{session_id}/message", token, json={"text": "hi"}
        )
        assert status == 409 and error_code(answer) == "not_connected"
        status, answer = await api.call(
            "POST", f"/api/sessions/{session_id}/watch", token, json=offer
        )
        assert status == 409 and error_code(answer) == "not_live"


async def test_bad_input_gets_a_json_4xx(api: Api) -> None:
    proctor, _candidate, exam_id, session_id = await exam_with_candidate(api)
    message = f"/api/sessions/{session_id}/message"
    for body, status_wanted in [
        ({"text": ""}, 422),
        ({"text": "   "}, 422),
        ({"text": "x" * 1001}, 422),
        ({"text": "hi", "extra": 1}, 422),
        ({"text": 5}, 422),
        ({}, 422),
    ]:
        status, answer = await api.call("POST", message, proctor, json=body)
        assert status == status_wanted and "error" in answer, body
    status, answer = await api.call(
        "POST", message, proctor, data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and error_code(answer) == "malformed_json"
    status, answer = await api.call("GET", "/api/sessions/abc/thumbnail", proctor)
    assert status == 400 and error_code(answer) == "bad_path"
    status, answer = await api.call("GET", "/api/exams/999/overview", proctor)
    assert status == 404
    # An offer that is not SDP is refused before the pipeline sees it (the session is live).
    await upload(api, _candidate, session_id, "obama.jpg")
    status, answer = await api.call(
        "POST",
        f"/api/sessions/{session_id}/watch",
        proctor,
        json={"sdp": "garbage", "type": "offer"},
    )
    assert status == 400 and error_code(answer) == "invalid_offer"
    status, answer = await api.call(
        "POST", f"/api/sessions/{session_id}/watch", proctor, json={"sdp": "v=0", "type": "answer"}
    )
    assert status == 422
    await api.ok("POST", f"/api/sessions/{session_id}/terminate", proctor)
    status, answer = await api.call("POST", message, proctor, json={"text": "still there?"})
    assert status == 409 and error_code(answer) == "session_closed"
    overview = await api.ok("GET", f"/api/exams/{exam_id}/overview", proctor)
    assert overview["sessions"] == []
    everyone = await api.ok("GET", f"/api/exams/{exam_id}/overview?status=all", proctor)
    assert [(s["session_id"], s["status"]) for s in everyone["sessions"]] == [
        (session_id, "terminated")
    ]
    status, answer = await api.call("GET", f"/api/exams/{exam_id}/overview?status=x", proctor)
    assert status == 422


async def test_thumbnail_is_a_small_jpeg_encoded_once_per_frame(api: Api) -> None:
    proctor, candidate, _exam_id, session_id = await exam_with_candidate(api)
    await upload(api, candidate, session_id, "obama.jpg")
    path = f"/api/sessions/{session_id}/thumbnail"
    first = await api.client.get(path, headers={"Authorization": f"Bearer {proctor}"})
    assert first.status == 200 and first.content_type == "image/jpeg"
    assert first.headers["Cache-Control"] == "private, no-store"
    jpeg = await first.read()

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] == 320
    many = await asyncio.gather(*(api.ok("GET", path, proctor) for _ in range(5)))
    assert all(body == jpeg for body in many)
    hub = api.client.app[SERVICES].live
    assert hub is not None
    live = hub.session(session_id)
    assert live is not None
    assert live.thumbnail.encodes == 1  # six viewers, one analysed frame, one encode
    await upload(api, candidate, session_id, "obama2.jpg")
    assert await api.ok("GET", path, proctor) != jpeg
    assert live.thumbnail.encodes == 2


async def ws_url(api: Api, exam_id: int, token: str | None) -> str:
    """The console's WebSocket URL with a fresh single-use ticket (no token in any URL)."""
    if not token:
        return f"/api/exams/{exam_id}/live"
    ticket = (await api.ok("POST", "/api/ws-ticket", token))["ticket"]
    return f"/api/exams/{exam_id}/live?ticket={ticket}"


async def receive(ws: Any, wanted: Any, seconds: float = 10.0) -> dict[str, Any]:
    """The next message for which `wanted(message)` is true (others are skipped)."""
    async with asyncio.timeout(seconds):
        while True:
            message = await ws.receive_json()
            if wanted(message):
                return dict(message)


async def test_websocket_refuses_callers_who_may_not_watch(api: Api) -> None:
    proctor, candidate, exam_id, _session_id = await exam_with_candidate(api)
    stranger = await api.staff("proctor2")
    for url, headers, status_wanted in [
        (await ws_url(api, exam_id, None), {}, 401),
        (f"/api/exams/{exam_id}/live?ticket=not-a-ticket", {}, 401),
        (await ws_url(api, exam_id, None), {"Authorization": f"Bearer {candidate}"}, 403),
        (await ws_url(api, exam_id, stranger), {}, 404),
    ]:
        response = await api.client.get(url, headers=headers)
        assert response.status == status_wanted, url
        assert "error" in await response.json()
    response = await api.client.get(await ws_url(api, 12345, proctor))
    assert response.status == 404
    response = await api.client.get(
        "/api/exams/x/live", headers={"Authorization": f"Bearer {proctor}"}
    )
    assert response.status == 400


@pytest.mark.parametrize("who", ["proctor", "admin"])
async def test_websocket_sends_a_snapshot_then_alerts_and_status_live(api: Api, who: str) -> None:
    proctor, candidate, exam_id, session_id = await exam_with_candidate(
        api, {"no_face": {"start_after": 1.0}}
    )
    token = proctor if who == "proctor" else await api.admin()
    async with api.client.ws_connect(await ws_url(api, exam_id, token)) as ws:
        snapshot = await ws.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["exam_id"] == exam_id
        [entry] = snapshot["sessions"]
        assert entry["session_id"] == session_id and entry["username"] == "carla"
        assert entry["status"] == "active" and entry["risk_score"] == 0
        assert entry["open_alerts"] == [] and entry["connected"] is False

        await ws.send_json({"type": "focus", "session_id": session_id})
        await upload(api, candidate, session_id, "coffee.jpg")  # first frame: the pipeline opens
        started = await receive(ws, lambda m: m["type"] == "session")
        assert started["event"] == "started" and started["session"]["live"] is True
        analysis = await receive(ws, lambda m: m["type"] == "analysis")
        assert analysis["session_id"] == session_id and analysis["faces"] == []
        await asyncio.sleep(1.2)
        await upload(api, candidate, session_id, "coffee.jpg")
        alert = await receive(ws, lambda m: m["type"] == "alert")
        assert (alert["kind"], alert["state"], alert["session_id"]) == (
            "no_face",
            "started",
            session_id,
        )
        updated = await receive(ws, lambda m: m["type"] == "session")
        assert updated["event"] == "updated" and updated["session"]["risk_score"] > 0
        assert [a["id"] for a in updated["session"]["open_alerts"]] == [alert["id"]]

        # Overlays are sent for the focused session only.
        await ws.send_json({"type": "focus", "session_id": None})
        await asyncio.sleep(0.1)
        await upload(api, candidate, session_id, "obama.jpg")
        await ws.send_json({"type": "snapshot"})
        again = await receive(ws, lambda m: m["type"] in ("snapshot", "analysis"))
        assert again["type"] == "snapshot"

        await api.ok("POST", f"/api/sessions/{session_id}/terminate", proctor)
        ended = await receive(ws, lambda m: m["type"] == "session" and m["event"] == "ended")
        assert ended["session"]["status"] == "terminated"
        closing = await receive(ws, lambda m: m["type"] == "alert" and m["state"] == "ended")
        assert closing["id"] == alert["id"]


async def test_websocket_notices_an_attempt_that_has_not_streamed_yet(api: Api) -> None:
    proctor, _candidate, exam_id, session_id = await exam_with_candidate(api)
    await api.candidate("dora")
    await api.enrol(proctor, exam_id, "dora")
    dora = await api.login("dora", "candidate-pass-1")
    async with api.client.ws_connect(await ws_url(api, exam_id, proctor)) as ws:
        first = await ws.receive_json()
        assert [s["session_id"] for s in first["sessions"]] == [session_id]
        started = await api.ok("POST", f"/api/exams/{exam_id}/sessions", dora)
        # No live event for an attempt that never streams: the periodic check finds it.
        snapshot = await receive(ws, lambda m: m["type"] == "snapshot", seconds=8)
        assert {s["session_id"] for s in snapshot["sessions"]} == {
            session_id,
            started["session_id"],
        }


async def test_websocket_closes_when_the_account_is_disabled(api: Api) -> None:
    proctor, _candidate, exam_id, session_id = await exam_with_candidate(api)
    me = await api.ok("GET", "/api/me", proctor)
    async with api.client.ws_connect(await ws_url(api, exam_id, proctor)) as ws:
        first = await ws.receive_json()
        assert [s["session_id"] for s in first["sessions"]] == [session_id]
        await api.ok("PATCH", f"/api/users/{me['id']}", await api.admin(), json={"disabled": True})
        # Checked again with every resync (5 s): the socket does not outlive the account.
        closed = await receive(ws, lambda m: m["type"] == "closed", seconds=10)
        assert closed["error"]["code"] == "unauthorized"
        assert "disabled" in closed["error"]["message"]
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401


def status_from_another_connection(settings: Settings, session_id: int) -> str:
    """The attempt's status as a new connection reads it now (blocking the event loop, so
    nothing else happens meanwhile)."""
    if not settings.database_url:
        with closing(sqlite3.connect(settings.data_dir / "proctor.db")) as db:
            query = "SELECT status FROM exam_sessions WHERE id = ?"
            [(status,)] = db.execute(query, (session_id,))
            return str(status)

    async def read() -> str:
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                query = text("SELECT status FROM exam_sessions WHERE id = :id")
                return str((await connection.execute(query, {"id": session_id})).scalar_one())
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as thread:  # its own event loop, ours stays blocked
        return thread.submit(asyncio.run, read()).result()


@pytest.mark.parametrize("how", ["terminate", "submit"])
async def test_ended_is_announced_only_once_the_ending_is_committed(
    api: Api, settings: Settings, how: str
) -> None:
    # Consoles re-read a session when they hear "ended"; a read racing the commit showed the
    # attempt still active. Read the row, from another connection, at the instant of publishing.
    proctor, candidate, exam_id, session_id = await exam_with_candidate(api)
    await upload(api, candidate, session_id, "coffee.jpg")  # the live pipeline opens
    services = api.client.app[SERVICES]
    assert services.live is not None
    seen: list[str] = []

    def read_status(_exam_id: int, message: ConsoleMessage) -> None:
        if isinstance(message, SessionChanged) and message.event == "ended":
            seen.append(status_from_another_connection(settings, session_id))

    services.live.bus.add_listener(read_status)
    if how == "terminate":
        await api.ok("POST", f"/api/sessions/{session_id}/terminate", proctor)
    else:
        await api.ok("POST", "/submit", candidate, json={"session_id": session_id, "answers": []})
    assert seen == ["terminated" if how == "terminate" else "submitted"]
