"""The two web pages (candidate and proctor console) and their static files, served with a
strict Content-Security-Policy: everything from this origin, no inline script, no CDN."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

__all__ = ["PAGES", "STATIC_PREFIX", "WEB_DIR", "setup_pages"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
PAGES = {"/": "index.html", "/exam": "index.html", "/proctor": "proctor.html"}
STATIC_PREFIX = "/static"

_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
        "connect-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
}


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WEB_DIR / name, headers=_PAGE_HEADERS)

    serve.__name__ = f"page_{name.split('.')[0]}"
    return serve


def setup_pages(app: web.Application) -> None:
    for path, name in PAGES.items():
        app.router.add_get(path, _page(name))
    app.router.add_static(STATIC_PREFIX, WEB_DIR, append_version=False)
