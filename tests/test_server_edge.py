"""`python server.py` as a real process, at its edge: https from its own certificate, an
access log with the real client and no query string, and a data directory only its user
can read."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from tests.certs import make_certificate
from tests.clips import DATA
from tests.processes import stop
from tests.test_server_process import ROOT, _free_port, _wait_until_up


@contextmanager
def server_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "server.py"],
        cwd=ROOT,
        env={**os.environ, "PROCTOR_HOST": "127.0.0.1", "PROCTOR_ICE_HOSTS": "127.0.0.1", **env},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        stop(process, seconds=30)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


async def test_https_access_log_and_private_data_dir(tmp_path: Path) -> None:
    certificate = make_certificate(tmp_path / "tls", "exam.test")
    data = tmp_path / "data"
    # A data directory made by hand, readable by everyone: corrected on start, with a warning.
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "notes.txt").write_text("left here by an admin")
    (data / "notes.txt").chmod(0o644)
    port = _free_port()
    env = {
        "PROCTOR_PORT": str(port),
        "PROCTOR_DATA_DIR": str(data),
        "PROCTOR_ADMIN_USERNAME": "boss",
        "PROCTOR_ADMIN_PASSWORD": "boss-password-1",
        "PROCTOR_TLS_CERT": str(certificate.cert),
        "PROCTOR_TLS_KEY": str(certificate.key),
        "PROCTOR_TRUSTED_PROXIES": "127.0.0.1",
        "PROCTOR_LIVE_WORKERS": "0",
        "PROCTOR_ANALYSIS_PROCESSES": "0",
    }
    base = f"https://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(ssl=certificate.client_context())
    with server_process(env) as process:
        await _wait_until_up(base + "/api/openapi.json", process, ssl=certificate.client_context())
        async with aiohttp.ClientSession(connector=connector) as http:
            # Plain http on the https port gets nowhere.
            try:
                async with http.get(f"http://127.0.0.1:{port}/api/openapi.json") as response:
                    plain_status = response.status
            except aiohttp.ClientError:
                plain_status = 0
            assert plain_status in (0, 400)

            async with http.post(
                base + "/login", json={"username": "boss", "password": "boss-password-1"}
            ) as response:
                admin = (await response.json())["access_token"]
            auth = {"Authorization": f"Bearer {admin}"}
            # A secret in a query string (as the WebSocket's ticket) must not reach the log.
            async with http.get(
                base + "/api/sessions?status=active&leak=query-secret-123",
                headers={**auth, "X-Forwarded-For": "198.51.100.23"},
            ) as response:
                assert response.status == 422
            async with http.post(
                base + "/api/exams",
                headers=auth,
                json={"title": "Perms", "duration_minutes": 10, "questions": []},
            ) as response:
                exam = await response.json()
            async with http.post(
                base + "/register", json={"username": "cand", "password": "cand-password-1"}
            ) as response:
                assert response.status == 201
            async with http.post(
                f"{base}/api/exams/{exam['id']}/candidates",
                headers=auth,
                json={"usernames": ["cand"]},
            ) as response:
                assert response.status == 200
            async with http.post(
                base + "/login", json={"username": "cand", "password": "cand-password-1"}
            ) as response:
                cand = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
            async with http.post(
                f"{base}/api/exams/{exam['id']}/sessions", headers=cand
            ) as response:
                session_id = (await response.json())["session_id"]
            # Frames without a face: a no_face alert with an evidence photo on disk.
            for _ in range(5):
                form = aiohttp.FormData()
                form.add_field("session_id", str(session_id))
                form.add_field(
                    "image",
                    (DATA / "coffee.jpg").read_bytes(),
                    filename="coffee.jpg",
                    content_type="image/jpeg",
                )
                async with http.post(base + "/upload-frame", headers=cand, data=form) as r:
                    assert r.status == 200
                await asyncio.sleep(1.1)
        evidence = list((data / "evidence").rglob("*.jpg"))
        assert evidence, "no evidence photo was written"
        found = modes(data)
    assert process.stderr is not None
    log = process.stderr.read().decode()

    assert "listening on https://127.0.0.1" in log
    assert "query-secret-123" not in log and "?" not in _access_lines(log)
    assert '198.51.100.23 "GET /api/sessions" 422' in log
    assert f"{data} was readable by other users: made owner-only" in log
    assert f"{data / 'notes.txt'} was readable by other users" in log
    for name in ("proctor.db", "proctor.db-wal", "secret_key", "notes.txt"):
        assert name in found, sorted(found)
    loose = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert loose == {}, loose
    assert found["."] == 0o700 and found["evidence"] == 0o700


def _access_lines(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if "aiohttp.access" in line)
