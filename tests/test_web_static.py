"""The pages are served by the app itself, with a strict content security policy; consoles
are told when the server shuts down; the browser tests fail, not skip, without Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType

import tests.browser as browser_helpers
from api.pages import WEB_DIR
from core.settings import Settings
from tests.browser import chromium_args, make_fake_media, serve
from tests.conftest import ADMIN, Api

EXPORT = r"^export (?:async )?(?:function|class|const) (\w+)"  # what a module offers


@pytest.mark.parametrize(
    ("path", "script"), [("/", "candidate/main.js"), ("/proctor", "console/main.js")]
)
async def test_pages_are_served_with_a_strict_policy(api: Api, path: str, script: str) -> None:
    response = await api.client.get(path)
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert f'src="/static/js/{script}"' in html
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_every_module_and_stylesheet_the_pages_use_is_served(api: Api) -> None:
    files = sorted(p.relative_to(WEB_DIR) for p in WEB_DIR.rglob("*") if p.is_file())
    assert Path("js/candidate/main.js") in files and Path("css/app.css") in files
    for relative in files:
        response = await api.client.get(f"/static/{relative.as_posix()}")
        assert response.status == 200, relative
    # Every module import names what a file under js/ exports (no build step, no CDN).
    js = WEB_DIR / "js"
    for module in js.rglob("*.js"):
        name = module.relative_to(js).as_posix()
        text = module.read_text().replace("http://www.w3.org/2000/svg", "")  # a namespace
        assert "http://" not in text and "https://" not in text, name
        imports = re.findall(r'import \{([^}]*)\} from "(\.\.?/[\w./-]+)"', text)
        assert len(imports) == text.count('from "'), name  # only named, relative imports
        for names, target in imports:
            path = (module.parent / target).resolve()
            assert path.is_file() and path.is_relative_to(js.resolve()), (name, target)
            exported = set(re.findall(EXPORT, path.read_text(), re.M))
            for imported in names.replace(",", " ").split():
                assert imported in exported, (name, target, imported)


async def test_static_files_stay_inside_web(api: Api) -> None:
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/static/js/../../README.md"):
        response = await api.client.get(path)
        assert response.status in (403, 404), path
    assert (await api.client.get("/static/")).status in (403, 404)  # no directory listing


async def test_open_consoles_are_closed_when_the_server_shuts_down(settings: Settings) -> None:
    async with serve(settings) as server, aiohttp.ClientSession() as http:
        login = {"username": ADMIN[0], "password": ADMIN[1]}
        async with http.post(server.url + "/login", json=login) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        exam = {"title": "T", "duration_minutes": 5}
        async with http.post(server.url + "/api/exams", json=exam, headers=headers) as response:
            exam_id = (await response.json())["id"]
        ws = await http.ws_connect(f"{server.url}/api/exams/{exam_id}/live", headers=headers)
        assert (await ws.receive_json())["type"] == "snapshot"
        await server.app.shutdown()  # what the runner does first on SIGTERM
        message = await ws.receive(timeout=5)
        assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        await ws.close()


def test_a_missing_chromium_fails_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser_helpers, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(pytest.fail.Exception, match="Chromium is required"):
        browser_helpers.require_chromium()


def test_fake_capture_files_are_absolute_and_loopback_is_allowed(tmp_path: Path) -> None:
    media = make_fake_media(tmp_path / "m", ((0, 1, "candidate"),), fps=5)
    args = chromium_args(media)
    assert f"--use-file-for-fake-video-capture={media.video}" in args
    assert media.video.is_absolute() and media.video.read_bytes().startswith(b"YUV4MPEG2 W640")
    assert "--allow-loopback-in-peer-connection" in args
    assert "--use-fake-device-for-media-stream" not in chromium_args(media, fake_devices=False)
