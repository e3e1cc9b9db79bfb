"""The server under load: a real server process on a free loopback port.

`server_tree` chooses the source it runs from; `Server` starts `bench/serve.py` (server.py,
plus diagnostics on request) from there with a temporary data directory and WebRTC pinned to
loopback, waits for it, stops it and summarises the error lines of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ADMIN = ("bench-admin", "bench-admin-password")
"""The admin the server creates at start-up (PROCTOR_ADMIN_*)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=True)


def server_tree(choice: str, directory: Path) -> tuple[Path, str]:
    """The source tree the server and generators run from, and its description.

    "head": the last commit, exported with `git archive` (other people edit the working
    tree while benchmarks run), with this benchmark's own files (bench/*.py) copied over
    it. "work": the working tree as it is."""
    if choice == "work":
        return ROOT, "working tree"
    commit = _git("rev-parse", "HEAD").stdout.decode().strip()
    tree = directory / "tree"
    tree.mkdir()
    archive = _git("archive", "--format=tar", commit).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    for folder in ROOT.iterdir():  # folders git does not track while empty (web/)
        if folder.is_dir() and not folder.name.startswith(".") and folder.name != "data":
            (tree / folder.name).mkdir(exist_ok=True)
    for path in BENCH.glob("*.py"):
        (tree / "bench" / path.name).write_bytes(path.read_bytes())
    return tree, f"commit {commit[:12]} + bench files from the working tree"


def _environment(host: str, port: int, data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PROCTOR_HOST": host,
        "PROCTOR_PORT": str(port),
        "PROCTOR_DATA_DIR": str(data_dir),
        "PROCTOR_SECRET_KEY": secrets.token_urlsafe(48),
        "PROCTOR_ADMIN_USERNAME": ADMIN[0],
        "PROCTOR_ADMIN_PASSWORD": ADMIN[1],
        "PROCTOR_ICE_HOSTS": host,
        "PROCTOR_ICE_SERVERS": "",
        **extra,
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    @classmethod
    def start(
        cls,
        tree: Path,
        workdir: Path,
        env_extra: dict[str, str],
        *,
        host: str = "127.0.0.1",
        cpus: str = "",
    ) -> Server:
        """`host`: any address of 127.0.0.0/8, for HTTP and media (one per node of a
        cluster). `cpus`: a `taskset -c` list the whole process tree is pinned to (its
        children inherit it), to emulate a slower machine; empty: not pinned."""
        port = free_port(host)
        data_dir = workdir / "data"
        log = workdir / "server.log"
        pin = ["taskset", "-c", cpus] if cpus else []  # taskset execs: the pid is the server's
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [*pin, sys.executable, str(tree / "bench" / "serve.py")],
                cwd=tree,
                env=_environment(host, port, data_dir, env_extra),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(process, f"http://{host}:{port}", data_dir, log)

    async def wait_ready(self, http: aiohttp.ClientSession, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/api/openapi.json") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.3)
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def error_summary(servers: list[Server]) -> dict[str, Any]:
    """The servers' ERROR and Traceback lines: how many, a sample, the first traceback in
    full and how often each kind of error line occurs."""
    logs = [server.log_lines() for server in servers]
    errors = [line for lines in logs for line in lines if " ERROR " in line or "Traceback" in line]
    summary: dict[str, Any] = {
        "server_error_lines": len(errors),
        "server_errors_sample": errors[:5],
    }
    for lines in logs:
        first = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
        if first is not None:
            summary["server_first_traceback"] = lines[max(0, first - 1) : first + 30]
            break
    kinds: dict[str, int] = {}
    for line in errors:
        kind = re.sub(r"^\S+ \S+ ", "", line)[:90]
        kinds[kind] = kinds.get(kind, 0) + 1
    summary["server_error_kinds"] = dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:10])
    return summary
