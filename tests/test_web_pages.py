"""The pages in a real browser, beyond the main scenario: camera problems explained, the live
link reconnecting by itself, browser events reported, a session ended by the proctor, and the
admin building an exam, enrolling people and reading history and charts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from api.services import SERVICES
from core.settings import Settings
from tests.browser import FakeMedia, chromium, make_fake_media, screenshot, serve
from tests.clips import DATA
from tests.conftest import ADMIN
from tests.test_web_e2e import VIEWPORT, Rest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> FakeMedia:
    return make_fake_media(tmp_path_factory.mktemp("fake-camera"), ((0, 6, "candidate"),))


async def register_in_page(page: Any, base: str, username: str) -> None:
    await page.goto(base + "/")
    await page.click("#tab-register")
    await page.fill("#auth-username", username)
    await page.fill("#auth-password", "candidate-pass-1")
    await page.click("#auth-submit")


async def empty_exam(rest: Rest, admin: str, title: str) -> dict[str, Any]:
    """A 10-minute exam without questions, created by the admin."""
    body = {"title": title, "duration_minutes": 10, "questions": []}
    return dict(await rest.call("POST", "/api/exams", admin, json=body))


async def enrolled_candidate(
    rest: Rest, http: aiohttp.ClientSession, base: str, admin: str, exam_id: int, username: str
) -> str:
    """Register `username`, enrol their reference photo and them in the exam; their token."""
    await rest.call(
        "POST", "/register", json={"username": username, "password": "candidate-pass-1"}
    )
    token = await rest.login(username, "candidate-pass-1")
    async with http.put(
        base + "/api/me/reference-photo",
        data=(DATA / "obama2.jpg").read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
    ) as response:
        assert response.status == 200
    await rest.call(
        "POST", f"/api/exams/{exam_id}/candidates", admin, json={"usernames": [username]}
    )
    return token


async def start_exam_in_page(browser: Any, base: str, username: str, page: Any = None) -> Any:
    """Sign in on the candidate page (a new one unless given) and start the listed exam."""
    if page is None:
        page = await (await browser.new_context(viewport=VIEWPORT, bypass_csp=True)).new_page()
    await page.goto(base + "/")
    await page.fill("#auth-username", username)
    await page.fill("#auth-password", "candidate-pass-1")
    await page.click("#auth-submit")
    await page.wait_for_selector("#check-photo[data-ok=true]")
    await page.click(".start-exam")
    await page.click("#confirm-ok")
    return page


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"fake_devices": False}, "No camera or microphone was found"),
        ({"grant_media": False}, "Camera and microphone access is blocked"),
    ],
    ids=["no-camera", "permission-denied"],
)
async def test_camera_problems_are_explained(
    settings: Settings, options: dict[str, bool], expected: str
) -> None:
    async with (
        serve(settings) as server,
        chromium(
            fake_devices=options.get("fake_devices", True),
            grant_media=options.get("grant_media", True),
        ) as browser,
    ):
        page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
        await register_in_page(page, server.url, "camless")
        await page.wait_for_selector("#camera-error", timeout=10_000)
        assert expected in (await page.text_content("#camera-error") or "")
        assert await page.is_disabled("#capture-photo")
        assert await page.get_attribute("#check-camera", "data-ok") == "false"
        await page.click("#camera-error button")  # "Try again" re-runs the check
        await page.wait_for_selector("#camera-error")
        name = "no-camera" if "fake_devices" in options else "camera-blocked"
        await screenshot(page, f"candidate-{name}")


@pytest.mark.webrtc
async def test_link_reconnects_reports_page_events_and_ends_with_the_proctor(
    settings: Settings, media: FakeMedia
) -> None:
    async with (
        serve(settings) as server,
        aiohttp.ClientSession() as http,
        chromium(media) as browser,
    ):
        rest = Rest(http, server.url)
        admin = await rest.login(*ADMIN)
        exam = await empty_exam(rest, admin, "Reconnect")
        await enrolled_candidate(rest, http, server.url, admin, exam["id"], "rita")
        page = await start_exam_in_page(browser, server.url, "rita")
        await page.wait_for_selector("#connection-status[data-state=connected]", timeout=20_000)
        session_id = int(await page.get_attribute("#exam-view", "data-session-id") or 0)

        hub = server.app[SERVICES].live
        assert hub is not None
        live = hub.session(session_id)
        assert live is not None and live.peer is not None
        first_peer = live.peer

        # The server drops the connection: the page notices and offers again by itself.
        await first_peer.close()
        await page.wait_for_selector("#connection-status[data-state=reconnecting]", timeout=10_000)
        await page.wait_for_selector("#connection-status[data-state=connected]", timeout=20_000)
        assert live.peer is not None and live.peer is not first_peer

        # Browser events go over the data channel and come back as alerts.
        await page.evaluate("document.dispatchEvent(new ClipboardEvent('paste'))")
        await page.wait_for_selector(".toast .t-body:text('Copying and pasting')", timeout=10_000)

        async def stored_kinds() -> set[str]:
            page_ = await rest.call("GET", f"/alerts?session_id={session_id}", admin)
            return {a["kind"] for a in page_["alerts"]}

        for _ in range(40):
            if "copy_paste" in await stored_kinds():
                break
            await asyncio.sleep(0.25)
        assert "copy_paste" in await stored_kinds()

        # The proctor ends the attempt: the page says so and stops the camera.
        await rest.call("POST", f"/api/sessions/{session_id}/terminate", admin)
        await page.wait_for_selector("#closed-reason", timeout=30_000)
        assert "ended this exam session" in (await page.text_content("#closed-reason") or "")
        live_tracks = await page.evaluate(
            "[...document.querySelectorAll('video')].filter(v => v.srcObject).length"
        )
        assert live_tracks == 0


async def test_admin_builds_an_exam_enrols_people_and_reads_history_and_charts(
    settings: Settings,
) -> None:
    async with (
        serve(settings) as server,
        aiohttp.ClientSession() as http,
        chromium() as browser,
    ):
        rest = Rest(http, server.url)
        await rest.call(
            "POST",
            "/register",
            json={"username": "cathy", "password": "candidate-pass-1", "full_name": "Cathy C."},
        )
        page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(server.url + "/proctor")
        await page.fill("#auth-username", ADMIN[0])
        await page.fill("#auth-password", ADMIN[1])
        await page.click("#auth-submit")

        # People: a proctor account.
        await page.click("#nav-people")
        await page.fill("#user-username", "olivia")
        await page.fill("#user-fullname", "Olivia Olsen")
        await page.fill("#user-password", "proctor-pass-1")
        await page.click("form button[type=submit]")
        await page.wait_for_selector(".notice.ok:has-text('olivia')")

        # New exam with a multiple-choice and an open question.
        await page.click("#nav-new-exam")
        await page.fill("#exam-title-input", "Physics midterm")
        await page.fill("#exam-description", "Answer both questions.")
        await page.fill("#exam-duration", "45")
        await page.select_option("#exam-preset", "strict")
        first = ".qb >> nth=0"
        await page.fill(f"{first} >> .q-text-input", "Unit of force?")
        await page.fill(f"{first} >> .q-options", "Joule\nNewton\nWatt")
        await page.fill(f"{first} >> .q-answer", "Newton")
        await page.fill(f"{first} >> .q-points-input", "2")
        await page.click("#add-question")
        second = ".qb >> nth=1"
        await page.fill(f"{second} >> .q-text-input", "Explain inertia.")
        await page.select_option(f"{second} >> .q-type", "open")
        await screenshot(page, "console-new-exam")
        await page.click("#create-exam")
        await page.wait_for_selector("#tab-setup[aria-selected=true]")
        assert await page.text_content("#exam-title") == "Physics midterm"

        await page.fill("#enrol-candidates", "cathy")
        await page.click("#enrol-candidates >> xpath=ancestor::form >> button[type=submit]")
        await page.wait_for_selector(".notice.ok:has-text('1 candidate enrolled')")
        await page.fill("#assign-proctors", "olivia, nobody-here")
        await page.click("#assign-proctors >> xpath=ancestor::form >> button[type=submit]")
        await page.wait_for_selector(".notice.bad:has-text('nobody-here')")  # the server's reason
        await page.fill("#assign-proctors", "olivia")
        await page.click("#assign-proctors >> xpath=ancestor::form >> button[type=submit]")
        await page.wait_for_selector(".notice.ok:has-text('1 proctor assigned')")

        admin = await rest.login(*ADMIN)
        [exam] = (await rest.call("GET", "/api/exams", admin))["exams"]
        assert exam["title"] == "Physics midterm" and exam["duration_minutes"] == 45
        assert exam["rules_preset"] == "strict"
        assert [(q["text"], q["options"], q["answer"], q["points"]) for q in exam["questions"]] == [
            ("Unit of force?", ["Joule", "Newton", "Watt"], "Newton", 2.0),
            ("Explain inertia.", [], None, 1.0),
        ]
        cathy = await rest.login("cathy", "candidate-pass-1")
        assert [e["id"] for e in (await rest.call("GET", "/api/exams", cathy))["exams"]] == [
            exam["id"]
        ]
        olivia = await rest.login("olivia", "proctor-pass-1")
        assert [e["id"] for e in (await rest.call("GET", "/api/exams", olivia))["exams"]] == [
            exam["id"]
        ]

        # Some history: frames without a face from cathy's attempt raise no_face.
        session = await rest.call("POST", f"/api/exams/{exam['id']}/sessions", cathy)
        for _ in range(4):
            form = aiohttp.FormData()
            form.add_field("session_id", str(session["session_id"]))
            form.add_field(
                "image",
                (DATA / "coffee.jpg").read_bytes(),
                filename="coffee.jpg",
                content_type="image/jpeg",
            )
            await rest.call("POST", "/upload-frame", cathy, data=form)
            await asyncio.sleep(1.1)
        history = await rest.call("GET", f"/alerts?exam_id={exam['id']}", admin)
        assert history["total"] >= 1

        await page.click(f".exam-link[data-exam-id='{exam['id']}']")
        await page.wait_for_selector(f".tile[data-session-id='{session['session_id']}']")
        await page.click("#tab-alerts")
        await page.wait_for_selector("#history-table tr[data-alert-id]")
        assert "Cathy C." in (await page.text_content("#history-table") or "")
        await page.select_option("#f-severity", "low")
        await page.click("#history-filters button[type=submit]")
        await page.wait_for_selector("#history-table:has-text('No alert matches')")
        await page.select_option("#f-severity", "")
        await page.select_option("#f-kind", "no_face")
        await page.click("#history-filters button[type=submit]")
        await page.wait_for_selector("#history-table tr[data-alert-id]")
        await page.wait_for_selector("#history-table img.evidence[src^='blob:']")
        await screenshot(page, "console-history")

        await page.click("#tab-insights")
        await page.wait_for_selector("#chart-kinds-time rect[data-kind=no_face]")
        await page.wait_for_selector("#chart-risk rect")
        await screenshot(page, "console-insights")
        assert errors == []


@pytest.mark.webrtc
async def test_a_full_server_makes_the_page_wait_then_it_connects(
    settings: Settings, media: FakeMedia, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.errors.BUSY_RETRY_SECONDS", 2)  # the page waits what it is told
    async with (
        serve(replace(settings, max_live_sessions=1)) as server,
        aiohttp.ClientSession() as http,
        chromium(media) as browser,
    ):
        rest = Rest(http, server.url)
        admin = await rest.login(*ADMIN)
        exam = await empty_exam(rest, admin, "Full")
        tokens = {
            name: await enrolled_candidate(rest, http, server.url, admin, exam["id"], name)
            for name in ("uma", "rita")
        }
        # Uma takes the only place (through the upload path).
        uma = await rest.call("POST", f"/api/exams/{exam['id']}/sessions", tokens["uma"])
        form = aiohttp.FormData()
        form.add_field("session_id", str(uma["session_id"]))
        form.add_field(
            "image",
            (DATA / "obama.jpg").read_bytes(),
            filename="obama.jpg",
            content_type="image/jpeg",
        )
        async with http.post(
            server.url + "/upload-frame",
            data=form,
            headers={"Authorization": f"Bearer {tokens['uma']}"},
        ) as response:
            assert response.status == 200

        page = await start_exam_in_page(browser, server.url, "rita")
        await page.wait_for_selector("#connection-status[data-state=waiting]", timeout=10_000)
        await page.wait_for_selector(".toast .t-body:text('proctoring server is busy')")
        assert await page.is_visible("#exam-view")  # the exam stays open meanwhile
        await screenshot(page, "candidate-server-busy")

        # Uma submits: her place frees up and Rita's page gets in by itself.
        await rest.call(
            "POST", "/submit", tokens["uma"], json={"session_id": uma["session_id"], "answers": []}
        )
        await page.wait_for_selector("#connection-status[data-state=connected]", timeout=20_000)
