"""Host candidates within a configured UDP port range (PROCTOR_MEDIA_PORTS): real aiortc
peers on loopback connect through them, a STUN server still gives server-reflexive ones,
and a full range is a clear error, not a random port."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection

from signaling.ice import IceSettings
from signaling.ports import NoFreePort, bind_in_range
from tests.turn_server import coturn


def candidates(pc: RTCPeerConnection) -> list[tuple[str, int, str]]:
    found = []
    for line in pc.localDescription.sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            found.append((fields[4], int(fields[5]), fields[7]))
    return found


def free_range(size: int) -> tuple[int, int]:
    """`size` consecutive UDP ports free right now on 127.0.0.1."""
    for first in range(47000, 48000, size):
        probes = []
        try:
            for port in range(first, first + size):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return first, first + size - 1
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError("no free UDP port range")


async def connect(
    offerer: RTCPeerConnection, answerer: RTCPeerConnection, ice: IceSettings
) -> None:
    offer_channel = offerer.createDataChannel("proctor")
    opened = asyncio.Event()
    received: asyncio.Queue[str] = asyncio.Queue()
    offer_channel.on("open", opened.set)

    @answerer.on("datachannel")
    def on_channel(channel: object) -> None:
        channel.on("message", received.put_nowait)  # type: ignore[attr-defined]

    offer = await offerer.createOffer()
    ice.prepare_gathering(offerer)
    await offerer.setLocalDescription(offer)
    await answerer.setRemoteDescription(offerer.localDescription)
    answer = await answerer.createAnswer()
    ice.prepare_gathering(answerer)
    await answerer.setLocalDescription(answer)
    await offerer.setRemoteDescription(answerer.localDescription)
    await asyncio.wait_for(opened.wait(), 10)
    offer_channel.send("through the range")
    assert await asyncio.wait_for(received.get(), 5) == "through the range"


async def test_peers_bind_within_the_range_and_connect() -> None:
    ports = free_range(4)
    ice = IceSettings(hosts=("127.0.0.1",), ports=ports)
    offerer, answerer = ice.new_peer_connection(), ice.new_peer_connection()
    try:
        await connect(offerer, answerer, ice)
        used = candidates(offerer) + candidates(answerer)
        assert len(used) == 2 and {kind for _, _, kind in used} == {"host"}
        assert all(ports[0] <= port <= ports[1] for _, port, _ in used), used
    finally:
        await offerer.close()
        await answerer.close()


async def test_a_stun_server_still_gives_server_reflexive_candidates(tmp_path: Path) -> None:
    ports = free_range(4)
    async with coturn(tmp_path / "turn") as server:
        ice = IceSettings(
            hosts=("127.0.0.1",), ports=ports, servers=(f"stun:127.0.0.1:{server.port}",)
        )
        pc = ice.new_peer_connection()
        try:
            pc.createDataChannel("proctor")
            offer = await pc.createOffer()
            ice.prepare_gathering(pc)
            await pc.setLocalDescription(offer)
            found = candidates(pc)
        finally:
            await pc.close()
    kinds = {kind for _, _, kind in found}
    assert kinds == {"host", "srflx"}, found
    # On loopback the STUN server sees the host socket itself: same port, in the range.
    assert all(ports[0] <= port <= ports[1] for _, port, _ in found), found


async def test_a_full_range_is_an_error_not_a_random_port() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        with pytest.raises(NoFreePort, match=f"no free UDP port in {port}-{port}"):
            await bind_in_range("127.0.0.1", (port, port), asyncio.DatagramProtocol)
    finally:
        taken.close()
