"""deploy/nginx.conf as shipped, run by a real nginx (Debian's) on loopback in front of the
real server: https to the clients, the WebSocket upgraded, and each client's own address
reaching the login throttle and the log. Clients come from 127.0.0.2 and 127.0.0.3 (all
of 127.0.0.0/8 is loopback), nginx reaches the server from 127.0.0.1."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from core.settings import Settings
from tests.browser import free_port, serve
from tests.certs import MadeCertificate, make_certificate
from tests.conftest import ADMIN
from tests.processes import stop
from tests.test_server_process import _wait_until_up

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"


def site_config(
    certificate: MadeCertificate, upstream: int, https: int, http: int, logs: Path
) -> str:
    """deploy/nginx.conf with this test's ports, certificate and log directory; every line
    replaced must be there exactly once, so the test follows the file's shape."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    replacements = {
        "server 127.0.0.1:5000;": f"server 127.0.0.1:{upstream};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl http2;",
        "listen 80;": f"listen 127.0.0.1:{http};",
        "/etc/letsencrypt/live/exam.example.edu/fullchain.pem": str(certificate.cert),
        "/etc/letsencrypt/live/exam.example.edu/privkey.pem": str(certificate.key),
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.replace("/var/log/nginx/", f"{logs}/")


def write_config(directory: Path, site: str) -> Path:
    """A whole nginx configuration around `site`, everything under `directory`; checked."""
    if not Path(NGINX).is_file():
        pytest.fail(
            "nginx is required (apt-get install nginx-light; scripts/install --dev does it)"
        )
    temp = directory / "temp"
    for sub in (directory / "logs", temp):
        sub.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{site}
}}
"""
    )
    check = subprocess.run(
        [NGINX, "-t", "-p", str(directory), "-c", str(conf)], capture_output=True, timeout=30
    )
    assert check.returncode == 0, check.stderr.decode()
    return conf


@asynccontextmanager
async def nginx(directory: Path, site: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    conf = write_config(directory, site)
    process = subprocess.Popen(  # noqa: ASYNC220 - a real proxy is the point; stopped below
        [NGINX, "-p", str(directory), "-c", str(conf)], stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        stop(process)


def client_from(address: str, certificate: MadeCertificate) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(ssl=certificate.client_context(), local_addr=(address, 0))
    return aiohttp.ClientSession(connector=connector)


async def login(http: aiohttp.ClientSession, base: str, username: str, password: str) -> int:
    async with http.post(base + "/login", json={"username": username, "password": password}) as r:
        return r.status


async def test_behind_nginx_each_client_is_throttled_and_logged_as_itself(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    certificate = make_certificate(tmp_path / "tls", "exam.test")
    settings = replace(settings, trusted_proxies=("127.0.0.1",))
    https_port, http_port = free_port(), free_port()
    async with serve(settings) as server:
        site = site_config(
            certificate, server.port, https_port, http_port, tmp_path / "nginx" / "logs"
        )
        async with nginx(tmp_path / "nginx", site) as proxy:
            base = f"https://127.0.0.1:{https_port}"
            await _wait_until_up(base + "/api/openapi.json", proxy, certificate.client_context())
            async with (
                client_from("127.0.0.2", certificate) as stranger,
                client_from("127.0.0.3", certificate) as alice,
            ):
                async with alice.post(
                    base + "/register", json={"username": "alice", "password": "alice-password"}
                ) as response:
                    assert response.status == 201
                # The stranger guesses, forging a new X-Forwarded-For each time: nginx appends
                # the address it sees, and that is the one the server believes.
                for n in range(5):
                    async with stranger.post(
                        base + "/login",
                        json={"username": "alice", "password": "wrong-guess"},
                        headers={"X-Forwarded-For": f"198.51.100.{n}"},
                    ) as response:
                        assert response.status == 401
                assert await login(stranger, base, "alice", "alice-password") == 429
                assert await login(alice, base, "alice", "alice-password") == 200

                # Plain http is sent to https by the proxy.
                async with alice.get(
                    f"http://127.0.0.1:{http_port}/", allow_redirects=False
                ) as response:
                    assert response.status == 301
                    assert response.headers["Location"].startswith("https://")

                # The console's WebSocket goes through the proxy (upgrade), with a ticket.
                async with alice.post(
                    base + "/login", json={"username": ADMIN[0], "password": ADMIN[1]}
                ) as response:
                    admin = (await response.json())["access_token"]
                auth = {"Authorization": f"Bearer {admin}"}
                exam = {"title": "Proxied", "duration_minutes": 5, "questions": []}
                async with alice.post(base + "/api/exams", json=exam, headers=auth) as response:
                    exam_id = (await response.json())["id"]
                async with alice.post(base + "/api/ws-ticket", headers=auth) as response:
                    ticket = (await response.json())["ticket"]
                async with alice.ws_connect(
                    f"wss://127.0.0.1:{https_port}/api/exams/{exam_id}/live?ticket={ticket}"
                ) as ws:
                    snapshot = await ws.receive_json(timeout=10)
                    assert snapshot["type"] == "snapshot" and snapshot["exam_id"] == exam_id

    server_log = "\n".join(r.getMessage() for r in caplog.records if r.name == "aiohttp.access")
    assert '127.0.0.2 "POST /login" 401' in server_log
    assert '127.0.0.2 "POST /login" 429' in server_log
    assert '127.0.0.3 "POST /login" 200' in server_log
    assert "198.51.100." not in server_log and ticket not in server_log
    proxy_log = (tmp_path / "nginx" / "logs" / "proctor.access.log").read_text()
    assert "127.0.0.3 " in proxy_log and ticket not in proxy_log
