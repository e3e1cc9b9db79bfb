"""End to end in a real browser: a candidate registers, enrols a photo from the (fake) webcam,
takes the exam streaming a clip made from real photos, answers and submits; meanwhile a
proctor's console sees the attempt appear, receives an alert live, sees its overlay on the
live video, and confirms it. Screenshots of both pages go to artifacts/."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.settings import Settings
from tests.browser import FakeMedia, chromium, make_fake_media, screenshot, serve
from tests.conftest import ADMIN

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]

# Chromium loops the clip: 7 s of the candidate alone, then 3 s with a second person.
SCENE = ((0, 7, "candidate"), (7, 10, "two_faces"))
RULES = {
    "multiple_faces": {"start_after": 0.5},
    "looking_away": {"enabled": False},
    "talking": {"enabled": False},
}
QUESTIONS = [
    {"text": "What is 2 + 2?", "options": ["3", "4", "5"], "answer": "4", "points": 2},
    {"text": "What is the capital of France?", "answer": "Paris", "points": 1},
    {"text": "Explain in one sentence why the sky is blue.", "points": 2},
]
VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> FakeMedia:
    return make_fake_media(tmp_path_factory.mktemp("fake-camera"), SCENE)


class Rest:
    """The REST API from the test's side, to set up and to check what the pages stored."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, headers=headers, **kw) as r:
            body = await r.json()
            assert r.status < 300, (method, path, r.status, body)
            return body

    async def login(self, username: str, password: str) -> str:
        body = await self.call("POST", "/login", json={"username": username, "password": password})
        return str(body["access_token"])


async def wait_for(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.25)


async def test_candidate_takes_the_exam_while_a_proctor_watches_and_confirms_an_alert(
    settings: Settings, media: FakeMedia
) -> None:
    started = time.monotonic()
    async with (
        serve(settings) as server,
        aiohttp.ClientSession() as http,
        chromium(media) as browser,
    ):
        base = server.url
        rest = Rest(http, base)
        admin = await rest.login(*ADMIN)
        await rest.call(
            "POST",
            "/api/users",
            admin,
            json={
                "username": "paula",
                "password": "proctor-pass-1",
                "role": "proctor",
                "full_name": "Paula Proctor",
            },
        )
        exam = await rest.call(
            "POST",
            "/api/exams",
            admin,
            json={
                "title": "General knowledge",
                "description": "Three short questions. Answers are saved as you type.",
                "duration_minutes": 30,
                "questions": QUESTIONS,
                "rules_overrides": RULES,
            },
        )
        await rest.call(
            "POST", f"/api/exams/{exam['id']}/proctors", admin, json={"usernames": ["paula"]}
        )

        errors: list[str] = []
        candidate_ctx = await browser.new_context(viewport=VIEWPORT, bypass_csp=True)
        proctor_ctx = await browser.new_context(viewport=VIEWPORT, bypass_csp=True)
        candidate = await candidate_ctx.new_page()
        console = await proctor_ctx.new_page()
        for page in (candidate, console):
            page.on("pageerror", lambda error: errors.append(str(error)))

        # --- the candidate registers and enrols a photo from the webcam ------------------
        await candidate.goto(base + "/")
        await candidate.click("#tab-register")
        await candidate.fill("#auth-fullname", "Barack Obama")
        await candidate.fill("#auth-username", "barack")
        await candidate.fill("#auth-password", "candidate-pass-1")
        await candidate.click("#auth-submit")
        await candidate.wait_for_selector("#check-camera[data-ok=true]", timeout=15_000)
        await candidate.wait_for_selector("#check-mic[data-ok=true]")
        await rest.call(
            "POST", f"/api/exams/{exam['id']}/candidates", admin, json={"usernames": ["barack"]}
        )

        # The page guides the candidate towards a usable photo with the server's own checks
        # (a frame a second), and says when it is ready.
        await candidate.wait_for_function(
            """() => ['size', 'frontal', 'light', 'sharp'].every(
                (id) => document.querySelector('#guide-' + id)?.dataset.ok === 'true')
              && document.querySelector('#photo-advice').textContent.startsWith('Ready')""",
            timeout=20_000,
        )
        await screenshot(candidate, "candidate-photo-guide")

        async def enrolled() -> bool:
            # A frame with a second person in it is refused, with the reason shown: retake.
            await candidate.click("#capture-photo")
            await candidate.wait_for_function(
                "!document.querySelector('#capture-photo').disabled", timeout=15_000
            )
            return await candidate.is_visible("#check-photo[data-ok=true]")

        await wait_for(enrolled, 30, "the reference photo to be accepted")

        # --- the proctor opens the exam's live view ----------------------------------------
        await console.goto(base + "/proctor")
        await console.fill("#auth-username", "paula")
        await console.fill("#auth-password", "proctor-pass-1")
        await console.click("#auth-submit")
        await console.click(f".exam-link[data-exam-id='{exam['id']}']")
        await console.wait_for_selector("#ws-status[data-state=live]", timeout=10_000)
        await console.wait_for_selector("#no-sessions", state="visible")

        # --- the candidate starts: the attempt appears on the console, live ---------------
        await candidate.click("#refresh-exams")
        await candidate.click(f".exam-item[data-exam-id='{exam['id']}'] .start-exam")
        await candidate.click("#confirm-ok")
        await candidate.wait_for_selector("#exam-view")
        await candidate.wait_for_selector(
            "#connection-status[data-state=connected]", timeout=20_000
        )
        session_id = int(await candidate.get_attribute("#exam-view", "data-session-id") or 0)
        tile = f".tile[data-session-id='{session_id}']"
        await console.wait_for_selector(f"{tile}[data-connected=true]", timeout=10_000)
        await console.wait_for_selector(f"{tile} .shot img:not([hidden])", timeout=10_000)

        # Chromium sends what the answer asks for: 5 frames/s, and 120 ms audio packets
        # (a=ptime:120) instead of its default 20 ms: ~8 decoded audio frames a second.
        async def received() -> tuple[float, int, int]:
            stats = await rest.call("GET", "/api/stats/live", admin)
            mine = next(s for s in stats["sessions"] if s["session_id"] == session_id)
            return stats["now"], mine["frames_received"], mine["audio_frames_received"]

        t0, video0, audio0 = await received()
        await asyncio.sleep(4.0)
        t1, video1, audio1 = await received()
        audio_rate, video_rate = (audio1 - audio0) / (t1 - t0), (video1 - video0) / (t1 - t0)
        print(f"Chromium sends {video_rate:.1f} video and {audio_rate:.1f} audio frames/s")
        assert 6 <= audio_rate <= 11, audio_rate
        # The cap is the point (Chromium's own rate is 30): at most 5 asked, a little jitter.
        # Below, only that frames flow: a loaded 2-core machine delivers 1.5-2 of the 5.
        assert 1 <= video_rate <= 7, video_rate

        # --- an alert arrives live; the proctor watches with overlays ---------------------
        await console.wait_for_selector(".feed-item[data-kind=multiple_faces]", timeout=25_000)
        # The same alert reached the candidate's page over its `proctor` data channel.
        await candidate.wait_for_selector(
            ".toast .t-body:text('Someone else seems to be in view')", timeout=5_000
        )
        await console.wait_for_selector(f"{tile} .chip[data-kind=multiple_faces]", timeout=5_000)
        await console.click(tile)
        await console.wait_for_selector("#session-panel")
        await console.wait_for_function(
            "document.querySelector('#live-video').videoWidth > 0", timeout=15_000
        )
        # The overlay draws both faces and the alert label while the second person is in view.
        await console.wait_for_function(
            "(() => { const c = document.querySelector('#overlay');"
            " return c.dataset.faces === '2' && c.dataset.labels.includes('multiple_faces'); })()",
            timeout=15_000,
        )
        item = ".timeline-item[data-kind=multiple_faces]"
        await console.wait_for_selector(f"{item} img.evidence[src^='blob:']", timeout=10_000)
        alert_id = int(await console.get_attribute(item, "data-alert-id") or 0)
        await console.fill(f"{item} .review-note", "Second person visible next to the candidate.")
        await console.click(f"{item} .review-confirm")
        await console.wait_for_selector(
            f".timeline-item[data-alert-id='{alert_id}'][data-review=confirmed]"
        )
        await console.fill("#message-text", "Please make sure you are alone in the room.")
        await console.click("#message-send")
        await candidate.wait_for_selector(".toast .t-body:text('alone in the room')", timeout=5_000)
        await screenshot(console, "console-session")

        # --- the candidate answers and submits ----------------------------------------------
        questions = await candidate.query_selector_all(".question")
        assert len(questions) == 3
        await candidate.check(".question >> nth=0 >> input[value='4']")
        await candidate.fill(".question >> nth=1 >> textarea", "paris")
        await candidate.fill(
            ".question >> nth=2 >> textarea", "Blue light is scattered more by the air."
        )
        await candidate.wait_for_selector("#save-status:text('All answers saved ·')", timeout=5_000)
        await candidate.wait_for_selector(".toast")
        await screenshot(candidate, "candidate-exam")

        await console.click(".modal-head .icon-btn")  # back to the grid
        await console.wait_for_timeout(2500)  # a fresh round of thumbnails
        await screenshot(console, "console-live")

        await candidate.click("#submit-exam")
        await candidate.click("#confirm-ok")
        await candidate.wait_for_selector("#score", timeout=10_000)
        assert (
            await candidate.text_content("#score")
        ) == "3 / 3"  # the open question waits for a person
        await screenshot(candidate, "candidate-result")
        await console.wait_for_selector(tile, state="detached", timeout=10_000)

        # --- what the pages did is stored ---------------------------------------------------
        paula = await rest.login("paula", "proctor-pass-1")
        alert = await rest.call("GET", f"/api/alerts/{alert_id}", paula)
        assert alert["kind"] == "multiple_faces" and alert["session_id"] == session_id
        assert alert["review_status"] == "confirmed"
        assert alert["review_note"] == "Second person visible next to the candidate."
        session = await rest.call("GET", f"/api/sessions/{session_id}", paula)
        assert session["status"] == "submitted" and session["score"] == 3
        assert session["risk_score"] > 0
        await candidate_ctx.close()
        await proctor_ctx.close()
        assert errors == []
    assert time.monotonic() - started < 60


def test_artifacts_are_gitignored() -> None:
    ignore = (Path(__file__).resolve().parent.parent / ".gitignore").read_text()
    assert "/artifacts/" in ignore.split()
