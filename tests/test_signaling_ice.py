"""ICE settings: no default STUN server, inline TURN credentials, loopback pinning."""

from __future__ import annotations

import pytest
from aiortc import RTCIceServer

from signaling.ice import (
    IceSettings,
    filter_sdp_candidates,
    ice_server_from_url,
    is_loopback_address,
    restrict_host_addresses,
)

SDP_WITH_CANDIDATES = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 0.0.0.0",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "a=candidate:2 1 udp 2130706431 192.168.1.20 50001 typ host",
        "a=candidate:3 1 udp 2130706431 ::1 50002 typ host",
        "a=candidate:4 1 udp 2130706431 4f0c1b2e-aaaa-bbbb-cccc-0123456789ab.local 50003 typ host",
        "a=candidate:5 1 udp 1694498815 203.0.113.7 50004 typ srflx raddr 10.0.0.2 rport 50001",
        "a=candidate:6 1 udp 2130706431 127.0.0.2 50005 typ host",
        "a=candidate:bad",
        "a=end-of-candidates",
        "a=mid:0",
    ]
)


def test_no_servers_means_no_ice_server_at_all() -> None:
    # aiortc falls back to a public STUN server when iceServers is None.
    config = IceSettings().rtc_configuration()
    assert config.iceServers == []


def test_servers_become_rtc_ice_servers() -> None:
    settings = IceSettings(
        servers=(
            "stun:stun.example.org:3478",
            "turn:bob:s%40cret@turn.example.org:3478?transport=tcp",
        )
    )
    assert settings.rtc_configuration().iceServers == [
        RTCIceServer(urls="stun:stun.example.org:3478"),
        RTCIceServer(
            urls="turn:turn.example.org:3478?transport=tcp", username="bob", credential="s@cret"
        ),
    ]


def test_turn_url_with_slashes_and_default_port() -> None:
    server = ice_server_from_url("turns://alice:pw@relay.example.org")
    assert server == RTCIceServer(urls="turns:relay.example.org", username="alice", credential="pw")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org",
        "stun:",
        "turn:relay.example.org:3478",  # no credentials: aiortc would skip it silently
        "stun:user:pw@stun.example.org",
        "turn:u:p@relay.example.org:notaport",
    ],
)
def test_bad_server_urls_are_rejected_at_settings_time(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        IceSettings(servers=(url,))


def test_hosts_must_be_ip_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        IceSettings(hosts=("localhost",))
    with pytest.raises(ValueError, match="at least one"):
        IceSettings(hosts=())


def test_loopback_only_and_remote_filter() -> None:
    assert IceSettings(hosts=("127.0.0.1",)).loopback_only
    assert IceSettings(hosts=("127.0.0.1", "::1")).loopback_only
    assert not IceSettings(hosts=("127.0.0.1", "10.1.2.3")).loopback_only
    assert not IceSettings().loopback_only
    pinned = IceSettings(hosts=("127.0.0.1",))
    assert pinned.remote_address_allowed("127.0.0.1")
    assert not pinned.remote_address_allowed("192.168.1.20")
    assert not pinned.remote_address_allowed("abc.local")
    assert IceSettings().remote_address_allowed("192.168.1.20")
    assert is_loopback_address("127.3.2.1") and not is_loopback_address("host.local")


def test_filter_keeps_only_loopback_candidates() -> None:
    sdp, kept = filter_sdp_candidates(SDP_WITH_CANDIDATES, is_loopback_address)
    candidates = [line for line in sdp.split("\r\n") if line.startswith("a=candidate:")]
    assert kept == 3
    assert [c.split()[4] for c in candidates] == ["127.0.0.1", "::1", "127.0.0.2"]
    # Everything else is untouched, with CRLF line ends.
    assert "a=end-of-candidates\r\na=mid:0\r\n" in sdp
    assert sdp.startswith("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n")


async def test_pinned_peer_gathers_on_loopback_only() -> None:
    settings = IceSettings(hosts=("127.0.0.1",))
    pc = settings.new_peer_connection()
    other = IceSettings().new_peer_connection()
    try:
        pc.createDataChannel("proctor")
        other.createDataChannel("proctor")
        offer = await pc.createOffer()
        settings.prepare_gathering(pc)
        await pc.setLocalDescription(offer)
        addresses = [
            line.split()[4]
            for line in pc.localDescription.sdp.splitlines()
            if line.startswith("a=candidate:")
        ]
        assert addresses and set(addresses) == {"127.0.0.1"}
        # The restriction is scoped to `pc`: another connection keeps aioice's own method.
        connection = other.sctp.transport.transport.iceGatherer._connection
        assert "get_component_candidates" not in vars(connection)
        patched = pc.sctp.transport.transport.iceGatherer._connection
        assert "get_component_candidates" in vars(patched)
        # Too late once gathering has happened.
        with pytest.raises(RuntimeError, match="before gathering"):
            restrict_host_addresses(pc, ["127.0.0.1"])
    finally:
        await pc.close()
        await other.close()


async def test_restriction_needs_a_transport() -> None:
    pc = IceSettings().new_peer_connection()
    try:
        with pytest.raises(RuntimeError, match="no transport"):
            restrict_host_addresses(pc, ["127.0.0.1"])
    finally:
        await pc.close()
