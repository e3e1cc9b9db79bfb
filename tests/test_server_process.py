"""`python server.py` as a real process on a free port, talked to over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_until_up(
    url: str, process: subprocess.Popen[bytes], ssl: ssl.SSLContext | None = None
) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl or True)) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("the server did not start in time")


async def test_server_runs_as_a_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PROCTOR_HOST": "127.0.0.1",
        "PROCTOR_PORT": str(port),
        "PROCTOR_DATA_DIR": str(tmp_path / "data"),
        "PROCTOR_ADMIN_USERNAME": "boss",
        "PROCTOR_ADMIN_PASSWORD": "boss-password-1",
        "PROCTOR_ICE_HOSTS": "127.0.0.1",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - a real process is the point; polled below
        [sys.executable, "server.py"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_up(base + "/api/openapi.json", process)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                base + "/register", json={"username": "walt", "password": "walt-password"}
            ) as r:
                assert r.status == 201
            async with http.post(
                base + "/login", json={"username": "boss", "password": "boss-password-1"}
            ) as r:
                assert r.status == 200 and (await r.json())["user"]["role"] == "admin"
        secret = tmp_path / "data" / "secret_key"
        assert secret.stat().st_mode & 0o077 == 0  # owner-only
        assert (tmp_path / "data" / "proctor.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 0


def test_bad_settings_stop_the_server_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "server.py"],
        cwd=ROOT,
        env={**os.environ, "PROCTOR_PORT": "eighty", "PROCTOR_DATA_DIR": str(tmp_path)},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"PROCTOR_PORT='eighty' is not an integer" in result.stderr


def test_create_admin_subcommand(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PROCTOR_DATA_DIR": str(tmp_path / "d"),
        "PROCTOR_NEW_ADMIN_PASSWORD": "admin-pass-9",
    }
    first = subprocess.run(
        [sys.executable, "server.py", "create-admin", "ada"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    assert b"created" in first.stdout
    second = subprocess.run(
        [sys.executable, "server.py", "create-admin", "ada"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert second.returncode == 1 and b"already exists" in second.stdout
