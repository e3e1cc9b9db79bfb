"""Real PostgreSQL and Redis servers for the tests, private to the test run: started from
Debian's packages in a temporary directory, reachable only through Unix sockets there (no
TCP port at all), stopped at the end."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TEMPLATE = "proctor_template"


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Postgres:
    """One cluster; `url(name)` for a database in it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="proctor-pg-"))
        self.data = self.dir / "data"
        self._count = 0

    def start(self) -> Postgres:
        assert (PG_BIN / "initdb").exists(), "PostgreSQL 15 is installed by scripts/install --dev"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        subprocess.run(
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth=trust", "--no-sync", "-E", "UTF8"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = " ".join(
            [
                "-c listen_addresses=''",  # no TCP: the socket below only
                f"-c unix_socket_directories={self.dir}",
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c max_connections=400",
            ]
        )
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.dir / "log"), "-w", "start"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        return self

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-h", str(self.dir), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return result.stdout

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.dir}"

    def new_database(self, template: str | None = None) -> str:
        """A fresh database's URL (a copy of `template`, if given)."""
        self._count += 1
        name = f"test_{os.getpid()}_{self._count}"
        self.psql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                              "stop"]),
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """One redis-server on a Unix socket, no persistence; `restart()` keeps the socket."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="proctor-redis-"))
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> Redis:
        server = shutil.which("redis-server")
        assert server, "redis-server is installed by scripts/install --dev"
        self.process = subprocess.Popen(
            [server, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            assert self.process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    postgres = Postgres().start()
    try:
        yield postgres
    finally:
        postgres.stop()


@contextlib.contextmanager
def running_redis() -> Iterator[Redis]:
    redis = Redis().start()
    try:
        yield redis
    finally:
        redis.close()
