"""`python server.py` as a real process on a free loopback port, for the tests that need the
whole server: started with its own environment, stopped with SIGTERM (or killed)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("boss", "boss-password-1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One server process. Use as a context manager (blocking: start it from a thread or
    before an event loop runs); `base` is its URL."""

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", **env: str) -> None:
        """`host`: any address of 127.0.0.0/8 (all of it is on `lo`): several servers on one
        machine then each have an address of their own, for HTTP and for media."""
        self.host = host
        self.port = free_port()
        self.base = f"http://{host}:{self.port}"
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "PROCTOR_HOST": host,
            "PROCTOR_PORT": str(self.port),
            "PROCTOR_DATA_DIR": str(data_dir),
            "PROCTOR_ADMIN_USERNAME": ADMIN[0],
            "PROCTOR_ADMIN_PASSWORD": ADMIN[1],
            "PROCTOR_ICE_HOSTS": host,
            # Tests share the machine with the browser and each other: admission by the
            # processors' share is tested on its own (tests/test_live_admission.py).
            "PROCTOR_MAX_CPU_LOAD": "5",
            **env,
        }
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> ServerProcess:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            # Its own process group, so that a kill takes its live workers with it.
            self.process = subprocess.Popen(
                [sys.executable, "server.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited at start:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.base + "/api/openapi.json", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise AssertionError(f"the server did not start in time:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; killed if it hangs. The exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def kill(self) -> None:
        """SIGKILL to the whole process group: no clean-up of any kind runs."""
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.stop()
            finally:
                self.kill()
