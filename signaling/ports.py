"""Host candidates on chosen local addresses and within a range of UDP ports.

aioice binds each host candidate to port 0 (the kernel picks) on every interface except
127.0.0.1, and has no option for either (aioice #47, aiortc #75 and #487). A firewall rule
needs a known range, and the tests need loopback. The alternatives are worse: the kernel's
`net.ipv4.ip_local_port_range` moves every ephemeral port of the machine, and wrapping the
event loop's `create_datagram_endpoint` would change every socket of the process.

So `gather_host_candidates` replaces `Connection.get_component_candidates` on the aioice
connections of one peer connection only: it binds the host sockets itself, within the
range, exactly as aioice would (a `StunProtocol` per address, registered on the
connection, the same candidate fields), asks the STUN server (if any) for their
server-reflexive addresses, and leaves the TURN relay to aioice. It reaches the private
`Connection._protocols` (aioice 0.13); tests/test_signaling_ports.py fails loudly if that
changes.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import random
import socket
from collections.abc import Callable, Sequence
from typing import Any

from aioice import turn as aioice_turn
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aioice.ice import Connection, StunProtocol, server_reflexive_candidate

logger = logging.getLogger(__name__)

PortRange = tuple[int, int]


class NoFreePort(OSError):
    """Every port of the range is taken on that address."""


async def bind_in_range(
    address: str, ports: PortRange, factory: Callable[[], asyncio.DatagramProtocol]
) -> tuple[asyncio.DatagramTransport, asyncio.DatagramProtocol]:
    """A UDP endpoint on `address` and a free port of `ports`, tried from a random start so
    concurrent offers rarely race for the same one."""
    loop = asyncio.get_running_loop()
    first, last = ports
    count = last - first + 1
    start = random.randrange(count)
    for step in range(count):
        port = first + (start + step) % count
        try:
            return await loop.create_datagram_endpoint(factory, local_addr=(address, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
    raise NoFreePort(errno.EADDRINUSE, f"no free UDP port in {first}-{last} on {address}")


def gather_host_candidates(
    connection: Connection,
    hosts: Sequence[str] | None,
    ports: PortRange | None,
) -> Callable[..., Any]:
    """A `get_component_candidates` for `connection` that gathers on `hosts` (None: the
    interfaces aioice found) and binds within `ports` (None: the kernel's choice)."""
    original = connection.get_component_candidates

    async def get_component_candidates(
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109 (aioice's)
    ) -> list[Candidate]:
        chosen = list(hosts) if hosts is not None else addresses
        if ports is None:
            return list(await original(component=component, addresses=chosen, timeout=timeout))
        candidates = await _bind_hosts(connection, component, chosen, ports)
        candidates += await _server_reflexive(connection, candidates, timeout)
        # Nothing left for aioice but the TURN relay, which has its own socket.
        candidates += await original(component=component, addresses=[], timeout=timeout)
        return candidates

    return get_component_candidates


async def _bind_hosts(
    connection: Connection, component: int, addresses: list[str], ports: PortRange
) -> list[Candidate]:
    candidates: list[Candidate] = []
    for address in addresses:
        try:
            transport, protocol = await bind_in_range(
                address, ports, lambda: StunProtocol(connection)
            )
        except OSError as error:
            logger.warning("no host candidate on %s: %s", address, error)
            continue
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, aioice_turn.UDP_SOCKET_BUFFER_SIZE)
        host, port = transport.get_extra_info("sockname")[:2]
        assert isinstance(protocol, StunProtocol)
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", host),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=host,
            port=port,
            type="host",
        )
        connection._protocols.append(protocol)
        candidates.append(protocol.local_candidate)
    return candidates


async def _server_reflexive(
    connection: Connection, hosts: list[Candidate], seconds: float
) -> list[Candidate]:
    if not connection.stun_server:
        return []
    tasks = [
        asyncio.ensure_future(server_reflexive_candidate(protocol, connection.stun_server))
        for protocol in connection._protocols
        if protocol.local_candidate in hosts
        and ipaddress.ip_address(protocol.local_candidate.host).version == 4
    ]
    if not tasks:
        return []
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
    return [task.result()[0] for task in done if task.exception() is None]
