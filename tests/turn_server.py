"""A real TURN server for tests: Debian's coturn, on loopback, with `use-auth-secret` (the
TURN REST API credentials the proctoring server mints)."""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aioice import stun, turn

from signaling.turn import mint_turn_credential
from tests.browser import free_port
from tests.processes import stop

TURNSERVER = "turnserver"


@dataclass(frozen=True)
class TurnServer:
    port: int
    secret: str
    relay_ports: tuple[int, int]
    log: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


async def allocate(port: int, username: str, password: str) -> tuple[str, int]:
    """A TURN allocation on the server (raises when it is refused); the relayed address."""
    transport, _ = await asyncio.wait_for(
        turn.create_turn_endpoint(
            asyncio.DatagramProtocol,
            server_addr=("127.0.0.1", port),
            username=username,
            password=password,
        ),
        timeout=5,
    )
    try:
        host, relayed_port = transport.get_extra_info("sockname")[:2]
        return str(host), int(relayed_port)
    finally:
        transport.close()


@asynccontextmanager
async def coturn(
    directory: Path, secret: str = "turn-secret-shared-with-proctor"
) -> AsyncIterator[TurnServer]:
    """coturn listening and relaying on 127.0.0.1 only (loopback peers allowed: the
    proctoring server is on loopback too). Fails, never skips, without coturn."""
    if shutil.which(TURNSERVER) is None:
        pytest.fail("coturn is required (apt-get install coturn; scripts/install --dev does it)")
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - before the server starts
    port = free_port()
    first = random.randrange(50000, 60000, 100)
    server = TurnServer(port, secret, (first, first + 99), directory / "turnserver.log")
    log = server.log.open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 - a real server is the point; polled below
        [
            TURNSERVER, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
            f"--listening-port={port}", f"--min-port={first}", f"--max-port={first + 99}",
            "--use-auth-secret", f"--static-auth-secret={secret}", "--realm=proctor.test",
            "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers", "--fingerprint",
            "--log-file=stdout", "--simple-log", "--verbose",
            f"--pidfile={directory / 'turnserver.pid'}", f"--userdb={directory / 'turndb'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        probe = mint_turn_credential(secret, "probe", 60)
        while True:
            assert process.poll() is None, server.log_text()
            try:
                await allocate(port, probe.username, probe.password)
                break
            except (OSError, TimeoutError, stun.TransactionError):
                if time.monotonic() > deadline:
                    raise AssertionError("coturn did not answer:\n" + server.log_text()) from None
                await asyncio.sleep(0.2)
        yield server
    finally:
        stop(process)
        log.close()
