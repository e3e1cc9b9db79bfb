"""Real Chromium for tests: the server on loopback, headless Chromium driven by Playwright,
and a fake camera and microphone made from real photos and a real voice.

    async with serve(settings) as base_url, chromium(camera=media) as browser:
        page = await browser.new_page()
        await page.goto(base_url + "/")

Chromium is Debian's (`/usr/bin/chromium`): Playwright cannot download browsers here. A test
that needs it fails, never skips, when it is missing. Every address involved is 127.0.0.1 and
no STUN server is configured on either side, so no packet leaves loopback.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from api.access_log import AccessLogger
from core.settings import Settings
from server import create_app, tls_context
from tests.clips import Clip, Scene, speech, write_wav, write_y4m

CHROMIUM = Path(os.environ.get("PROCTOR_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
"""Screenshots land here (gitignored)."""

# From ../shared/NOTES.md; Playwright adds --headless and its own fresh --user-data-dir.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    # WebRTC must only ever use loopback: no mDNS names for host candidates, no other NICs.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
)


@dataclass(frozen=True)
class FakeMedia:
    """Files for Chromium's fake capture devices (absolute, normalised paths)."""

    video: Path
    audio: Path


def make_fake_media(directory: Path, scene: Scene, *, fps: float = 15.0) -> FakeMedia:
    """A y4m clip of `scene` (Chromium loops it) and the real speech sample, as long."""
    directory.mkdir(parents=True, exist_ok=True)
    clip = Clip(scene, fps=fps)
    video = write_y4m(clip, directory / "camera.y4m")
    samples, rate = speech(clip.duration)
    audio = write_wav(directory / "microphone.wav", samples, rate)
    return FakeMedia(video=video, audio=audio)


def chromium_args(
    media: FakeMedia | None,
    *,
    fake_devices: bool = True,
    grant_media: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    """Chromium's flags. `fake_devices=False`: no camera at all (and `media` is ignored);
    `grant_media=False`: the camera permission prompt is left to the context's permissions
    (Playwright denies what was not granted)."""
    args = [*CHROMIUM_FLAGS, *extra]
    if not fake_devices:
        args.remove("--use-fake-device-for-media-stream")
        media = None
    if not grant_media:
        args.remove("--use-fake-ui-for-media-stream")
    if media is not None:
        for path in (media.video, media.audio):
            if not path.is_absolute() or path != path.resolve() or not path.is_file():
                pytest.fail(f"fake capture file must exist and be absolute and normalised: {path}")
        args += [
            f"--use-file-for-fake-video-capture={media.video}",
            f"--use-file-for-fake-audio-capture={media.audio}",
        ]
    return args


@asynccontextmanager
async def chromium(
    media: FakeMedia | None = None,
    *,
    fake_devices: bool = True,
    grant_media: bool = True,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[Any]:
    """A headless Chromium (Playwright `Browser`) with the fake camera and microphone, and
    `extra_args` (e.g. a host-resolver rule and a trusted certificate).

    Open pages in `new_context(bypass_csp=True)`: the pages forbid `eval`, which Playwright's
    `wait_for_function` with a JavaScript string needs."""
    require_chromium()
    try:
        from playwright.async_api import async_playwright
    except ImportError as error:  # pragma: no cover - the suite's requirements include it
        pytest.fail(f"the playwright package is required for the browser tests: {error}")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=chromium_args(
                media, fake_devices=fake_devices, grant_media=grant_media, extra=extra_args
            ),
        )
        try:
            yield browser
        finally:
            await browser.close()


def require_chromium() -> None:
    """Fail (never skip) when Debian's Chromium is not there."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is required for the browser tests and was not found at {CHROMIUM} "
            "(apt-get install -y chromium, or set PROCTOR_TEST_CHROMIUM)"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str
    """http://127.0.0.1:<port>"""
    app: web.Application
    tls_port: int | None = None
    """The port of the same app served over https, when asked for."""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[Served]:
    """The real app from the factory, listening on 127.0.0.1; with `settings.tls_cert`, also
    over https on a second port (the server's own TLS context, as `server.py` makes it)."""
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=5.0, access_log_class=AccessLogger)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    tls_port = None
    if (context := tls_context(settings)) is not None:
        tls_port = free_port()
        await web.TCPSite(runner, "127.0.0.1", tls_port, ssl_context=context).start()
    try:
        yield Served(f"http://127.0.0.1:{port}", app, tls_port)
    finally:
        await runner.cleanup()


async def screenshot(page: Any, name: str) -> Path:
    """Save a full-page PNG of `page` as artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page
    await page.screenshot(path=str(path), full_page=True)
    return path
