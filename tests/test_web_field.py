"""A real exam as a remote candidate meets it, in real Chromium: https (a secure context under
a name that is not loopback), a network where only TURN gets through, and an exam longer
than several access-token lifetimes."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.settings import Settings
from tests.browser import FakeMedia, chromium, make_fake_media, serve
from tests.certs import make_certificate
from tests.conftest import ADMIN
from tests.test_web_e2e import VIEWPORT, Rest
from tests.test_web_pages import empty_exam, enrolled_candidate, start_exam_in_page
from tests.turn_server import coturn

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]

PASTE = "document.dispatchEvent(new ClipboardEvent('paste'))"
PASTE_ALERT = ".toast .t-body:text('Copying and pasting')"
"""A copy_paste alert, raised by the server from the page's report and sent back to the
page over the data channel: proof that the channel works both ways."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> FakeMedia:
    return make_fake_media(tmp_path_factory.mktemp("fake-camera"), ((0, 6, "candidate"),))


def offers(page: Any) -> list[str]:
    """The SDP of every offer the page posts, as it posts them."""
    sent: list[str] = []

    def on_request(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/offer"):
            sent.append(json.loads(request.post_data or "{}").get("sdp", ""))

    page.on("request", on_request)
    return sent


def candidate_lines(sdp: str) -> list[str]:
    return [line for line in sdp.splitlines() if line.startswith("a=candidate:")]


async def test_over_http_the_page_asks_for_https_and_over_https_it_streams(
    settings: Settings, media: FakeMedia, tmp_path: Path
) -> None:
    certificate = make_certificate(tmp_path / "tls", "exam.test")
    settings = replace(settings, tls_cert=certificate.cert, tls_key=certificate.key)
    resolve_and_trust = (
        "--host-resolver-rules=MAP exam.test 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={certificate.spki}",
    )
    async with (
        serve(settings) as server,
        aiohttp.ClientSession() as http,
        chromium(media, extra_args=resolve_and_trust) as browser,
    ):
        assert server.tls_port is not None
        rest = Rest(http, server.url)
        admin = await rest.login(*ADMIN)
        exam = await empty_exam(rest, admin, "Secure")
        await enrolled_candidate(rest, http, server.url, admin, exam["id"], "sana")

        # http://exam.test: not a secure context, so no camera; the page says why.
        plain = await (await browser.new_context(viewport=VIEWPORT)).new_page()
        posted = offers(plain)
        await plain.goto(f"http://exam.test:{server.port}/")
        assert await plain.evaluate("window.isSecureContext") is False
        await plain.fill("#auth-username", "sana")
        await plain.fill("#auth-password", "candidate-pass-1")
        await plain.click("#auth-submit")
        await plain.wait_for_selector("#camera-error", timeout=10_000)
        message = await plain.text_content("#camera-error") or ""
        assert "needs a secure (https) connection" in message
        assert f"https://exam.test:{server.port}/" in message
        assert await plain.get_attribute("#check-camera", "data-ok") == "false"
        assert posted == []

        # https://exam.test with the test's certificate: camera, stream, alerts back.
        secure_base = f"https://exam.test:{server.tls_port}"
        page = await start_exam_in_page(browser, secure_base, "sana")
        assert await page.evaluate("window.isSecureContext") is True
        assert page.url.startswith(secure_base)
        await page.wait_for_selector("#connection-status[data-state=connected]", timeout=20_000)
        await page.evaluate(PASTE)
        await page.wait_for_selector(PASTE_ALERT, timeout=10_000)
        session_id = int(await page.get_attribute("#exam-view", "data-session-id") or 0)
        stored = await rest.call("GET", f"/alerts?session_id={session_id}", admin)
        assert "copy_paste" in {alert["kind"] for alert in stored["alerts"]}


async def test_a_candidate_behind_a_relay_only_network_streams_through_turn(
    settings: Settings, media: FakeMedia, tmp_path: Path
) -> None:
    async with coturn(tmp_path / "turn") as turn_server:
        settings = replace(
            settings,
            ice_servers=(turn_server.url,),
            turn_secret=turn_server.secret,
            ice_transport_policy="relay",
        )
        async with (
            serve(settings) as server,
            aiohttp.ClientSession() as http,
            chromium(media) as browser,
        ):
            rest = Rest(http, server.url)
            admin = await rest.login(*ADMIN)
            exam = await empty_exam(rest, admin, "Relayed")
            token = await enrolled_candidate(rest, http, server.url, admin, exam["id"], "ravi")
            ravi = await rest.call("GET", "/api/me", token)
            page = await (await browser.new_context(viewport=VIEWPORT, bypass_csp=True)).new_page()
            posted = offers(page)
            await start_exam_in_page(browser, server.url, "ravi", page)
            await page.wait_for_selector("#connection-status[data-state=connected]", timeout=30_000)
            session_id = int(await page.get_attribute("#exam-view", "data-session-id") or 0)

            # The browser offered relayed candidates only, all on coturn's relay ports.
            lines = candidate_lines(posted[-1])
            assert lines and all(" typ relay " in line for line in lines), lines
            first, last = turn_server.relay_ports
            assert all(first <= int(line.split()[5]) <= last for line in lines), lines

            # Media and the data channel both came through the relay.
            async def frames() -> int:
                stats = await rest.call("GET", "/api/stats/live", admin)
                mine = [s for s in stats["sessions"] if s["session_id"] == session_id]
                return int(mine[0]["frames_received"]) if mine else 0

            deadline = time.monotonic() + 15
            while await frames() < 5:
                assert time.monotonic() < deadline, "no frames came through the relay"
                await asyncio.sleep(0.25)
            await page.evaluate(PASTE)
            await page.wait_for_selector(PASTE_ALERT, timeout=10_000)

        # With the credentials the server minted for this candidate.
        log = turn_server.log_text()
        allocations = [
            line
            for line in log.splitlines()
            if f":{ravi['id']}>" in line and "ALLOCATE processed, success" in line
        ]
        assert allocations, log[-3000:]


TOKEN_SECONDS = 10
"""Access-token lifetime in the long exam: the pages renew a quarter of it (2.5 s) early; the
setting accepts lifetimes down to 10 s (PROCTOR_TOKEN_TTL_SECONDS) for runs like this one."""


async def test_an_exam_longer_than_several_token_lifetimes_runs_without_a_401(
    settings: Settings, media: FakeMedia
) -> None:
    settings = replace(settings, token_ttl_seconds=TOKEN_SECONDS)
    async with (
        serve(settings) as server,
        aiohttp.ClientSession() as http,
        chromium(media) as browser,
    ):
        rest = Rest(http, server.url)
        admin = await rest.login(*ADMIN)
        question = {"text": "Describe your day.", "points": 1}
        exam = await rest.call(
            "POST",
            "/api/exams",
            admin,
            json={"title": "Long", "duration_minutes": 30, "questions": [question]},
        )
        await enrolled_candidate(rest, http, server.url, admin, exam["id"], "lena")

        statuses: dict[str, list[tuple[str, int]]] = {"candidate": [], "console": []}
        errors: list[str] = []
        pages = {}
        for who in statuses:
            pages[who] = await (
                await browser.new_context(viewport=VIEWPORT, bypass_csp=True)
            ).new_page()
            pages[who].on(
                "response",
                lambda r, who=who: statuses[who].append((r.url.split("?")[0], r.status)),
            )
            pages[who].on("pageerror", lambda error: errors.append(str(error)))
        candidate, console = pages["candidate"], pages["console"]

        # The admin watches the exam live (WebSocket, thumbnails every 2 s) meanwhile.
        await console.goto(server.url + "/proctor")
        await console.fill("#auth-username", ADMIN[0])
        await console.fill("#auth-password", ADMIN[1])
        await console.click("#auth-submit")
        await console.click(f".exam-link[data-exam-id='{exam['id']}']")
        await console.wait_for_selector("#ws-status[data-state=live]", timeout=10_000)

        await start_exam_in_page(browser, server.url, "lena", candidate)
        await candidate.wait_for_selector(
            "#connection-status[data-state=connected]", timeout=20_000
        )
        session_id = int(await candidate.get_attribute("#exam-view", "data-session-id") or 0)
        tile = f".tile[data-session-id='{session_id}'][data-connected=true]"
        await console.wait_for_selector(tile, timeout=10_000)

        # Four token lifetimes: an answer typed every 5 s, autosaved each time.
        started = time.monotonic()
        typed = 0
        while time.monotonic() - started < 4 * TOKEN_SECONDS:
            typed += 1
            await candidate.fill(".question >> nth=0 >> textarea", f"answer number {typed}")
            await candidate.wait_for_selector("#save-status:text('All answers saved ·')")
            assert await candidate.is_visible("#connection-status[data-state=connected]")
            assert await console.is_visible("#ws-status[data-state=live]")
            await asyncio.sleep(5)

        admin = await rest.login(*ADMIN)  # the test's own token has long expired
        saved = await rest.call("GET", f"/api/sessions/{session_id}", admin)
        assert saved["status"] == "active"
        await candidate.click("#submit-exam")
        await candidate.click("#confirm-ok")
        await candidate.wait_for_selector("#score", timeout=10_000)
        await console.wait_for_selector(tile.split("[data-connected")[0], state="detached")

        refreshed = {
            who: [s for url, s in seen if url.endswith("/refresh")]
            for who, seen in statuses.items()
        }
        assert all(len(r) >= 3 and set(r) == {200} for r in refreshed.values()), refreshed
        unauthorized = {who: [u for u, s in seen if s == 401] for who, seen in statuses.items()}
        assert unauthorized == {"candidate": [], "console": []}
        saves = [s for url, s in statuses["candidate"] if url.endswith("/answers")]
        assert len(saves) >= typed and set(saves) == {200}
        history = await rest.call("GET", f"/alerts?session_id={session_id}", admin)
        lost = [alert for alert in history["alerts"] if alert["kind"] == "stream_lost"]
        assert not lost, lost  # start, end and message say when and how the stream dropped
        session = await rest.call("GET", f"/api/sessions/{session_id}", admin)
        assert session["status"] == "submitted"
        assert errors == []

        # Signing out ends the sign-in on the server: its refresh token is refused.
        kept = await candidate.evaluate("sessionStorage.getItem('proctor.candidate')")
        refresh_token = json.loads(kept)["refreshToken"]
        await candidate.click("#logout")
        await candidate.wait_for_selector("#auth-submit")
        assert await candidate.evaluate("sessionStorage.getItem('proctor.candidate')") is None
        async with http.post(
            server.url + "/refresh", json={"refresh_token": refresh_token}
        ) as response:
            assert response.status == 401
            assert "revoked" in (await response.json())["error"]["message"]
