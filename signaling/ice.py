"""ICE settings: which STUN/TURN servers to use and which local addresses to offer.

Two things aiortc does by default that a proctoring server (and every test) must not rely on:

* With no `iceServers`, aiortc adds a public Google STUN server. `IceSettings.rtc_configuration`
  always passes the configured list, possibly empty, so no server is contacted unless configured.
* aioice gathers a host candidate on every interface *except* 127.0.0.1. `restrict_host_addresses`
  makes one peer connection gather on the given addresses only (127.0.0.1 included), and
  `filter_sdp_candidates` drops the remote candidates we must not send to. Together they pin a
  peer to loopback, which is what tests need: no packet may leave 127.0.0.0/8.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcicetransport import RTCIceGatherer, parse_stun_turn_uri

from core.settings import Settings
from signaling.ports import gather_host_candidates
from signaling.turn import TurnCredential, mint_turn_credential

logger = logging.getLogger(__name__)

__all__ = [
    "IceSettings",
    "filter_sdp_candidates",
    "ice_settings",
    "ice_server_from_url",
    "is_loopback_address",
    "restrict_host_addresses",
]


def ice_server_from_url(url: str, minted: TurnCredential | None = None) -> RTCIceServer:
    """Build an `RTCIceServer` from one URL, with TURN credentials inline or `minted`.

    Accepted forms (aiortc's own syntax, plus inline credentials because a settings value is a
    single string): `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]`, `turns:...`, and
    `turn:user:pass@host:port` or `turn://user:pass@host:port` (user and password
    percent-decoded). A TURN URL without inline credentials takes `minted` ones. Raises
    ValueError with the offending URL when aiortc cannot parse it.
    """
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("stun", "stuns", "turn", "turns"):
        raise ValueError(f"ICE server URL must start with stun:, stuns:, turn: or turns: ({url!r})")
    rest = rest.removeprefix("//")
    username: str | None = None
    credential: str | None = None
    if "@" in rest:
        if not scheme.startswith("turn"):
            raise ValueError(f"only TURN URLs may carry credentials ({url!r})")
        userinfo, _, rest = rest.rpartition("@")
        user, _, password = userinfo.partition(":")
        username, credential = unquote(user), unquote(password)
    plain = f"{scheme}:{rest}"
    if scheme.startswith("turn") and username is None and minted is not None:
        username, credential = minted.username, minted.password
    try:
        parse_stun_turn_uri(plain)
    except ValueError as exc:
        raise ValueError(f"malformed ICE server URL {url!r}: {exc}") from None
    if scheme.startswith("turn") and (not username or not credential):
        # aiortc would silently skip a TURN server without credentials; say so now.
        raise ValueError(
            f"TURN URL needs user:password@ credentials or a TURN secret to mint them ({url!r})"
        )
    return RTCIceServer(urls=plain, username=username, credential=credential)


def _has_inline_credentials(url: str) -> bool:
    return url.startswith("turn") and "@" in url


def ice_settings(settings: Settings) -> IceSettings:
    return IceSettings(
        servers=settings.ice_servers,
        hosts=settings.ice_hosts,
        turn_secret=settings.turn_secret,
        turn_ttl_seconds=settings.turn_ttl_seconds,
        transport_policy=settings.ice_transport_policy,
        ports=settings.media_ports,
    )


def is_loopback_address(host: str) -> bool:
    """True for 127.0.0.0/8 and ::1; False for anything else, hostnames included."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class IceSettings:
    """How one server's peer connections do ICE."""

    servers: tuple[str, ...] = ()
    """STUN/TURN URLs (see `ice_server_from_url`). Empty: host candidates only, no server."""
    hosts: tuple[str, ...] | None = None
    """Local IP addresses to gather host candidates on. None: every interface (aioice's
    default, which leaves out 127.0.0.1). Loopback addresses only: the peer is pinned to
    loopback and remote candidates that are not loopback are dropped (tests)."""
    turn_secret: str = ""
    """Shared with the TURN server: TURN URLs without inline credentials get minted ones."""
    turn_ttl_seconds: int = 3600
    transport_policy: str = "all"
    """What the browsers are told ("relay": TURN only). Our own peers always gather all."""
    ports: tuple[int, int] | None = None
    """Local UDP ports our host candidates bind (`signaling.ports`); None: any."""

    def __post_init__(self) -> None:
        # Fail at start-up, not on the first candidate's offer.
        for url in self.servers:
            ice_server_from_url(url, self._minted("check"))
        if self.hosts is not None:
            if not self.hosts:
                raise ValueError("IceSettings.hosts must be None or name at least one address")
            for host in self.hosts:
                try:
                    ipaddress.ip_address(host)
                except ValueError:
                    raise ValueError(f"IceSettings.hosts: {host!r} is not an IP address") from None

    @property
    def loopback_only(self) -> bool:
        """True when every configured host address is a loopback address."""
        return self.hosts is not None and all(is_loopback_address(h) for h in self.hosts)

    def rtc_configuration(self) -> RTCConfiguration:
        """The configuration for a new RTCPeerConnection; never aiortc's default STUN server."""
        minted = self._minted("server")
        return RTCConfiguration(iceServers=[ice_server_from_url(u, minted) for u in self.servers])

    def browser_servers(self, user: str) -> list[dict[str, str]]:
        """The `iceServers` a page gets (RTCIceServer dictionaries), TURN credentials minted
        for `user`. TURN URLs with inline (static) credentials are for our own peers only:
        a password in a page is a password for everyone."""
        minted = self._minted(user)
        servers: list[dict[str, str]] = []
        for url in self.servers:
            if _has_inline_credentials(url):
                continue
            if url.startswith("turn") and minted is not None:
                servers.append(
                    {"urls": url, "username": minted.username, "credential": minted.password}
                )
            elif url.startswith("stun"):
                servers.append({"urls": url})
        return servers

    @staticmethod
    def turn_expiry(servers: list[dict[str, str]]) -> int | None:
        """When the minted credentials in `servers` expire (their username says), if any."""
        for server in servers:
            if "username" in server:
                return int(server["username"].partition(":")[0])
        return None

    @property
    def static_turn_urls(self) -> tuple[str, ...]:
        """TURN URLs carrying a static password: never handed to browsers."""
        return tuple(url for url in self.servers if _has_inline_credentials(url))

    def _minted(self, user: str) -> TurnCredential | None:
        if not self.turn_secret:
            return None
        return mint_turn_credential(self.turn_secret, user, self.turn_ttl_seconds)

    def remote_address_allowed(self, host: str) -> bool:
        """Whether a remote candidate's address may be used (always, unless loopback-only)."""
        return not self.loopback_only or is_loopback_address(host)

    def new_peer_connection(self) -> RTCPeerConnection:
        """An RTCPeerConnection with this configuration (call `prepare_gathering` later)."""
        return RTCPeerConnection(configuration=self.rtc_configuration())

    def prepare_gathering(self, pc: RTCPeerConnection) -> None:
        """Apply the host and port restrictions; call right before `pc.setLocalDescription`."""
        if self.hosts is not None or self.ports is not None:
            restrict_host_addresses(pc, self.hosts, self.ports)


def _ice_gatherers(pc: RTCPeerConnection) -> list[RTCIceGatherer]:
    # Every transport of this connection, through aiortc's public attributes.
    gatherers: list[RTCIceGatherer] = []
    for transceiver in pc.getTransceivers():
        for dtls in (transceiver.receiver.transport, transceiver.sender.transport):
            if dtls is not None and dtls.transport.iceGatherer not in gatherers:
                gatherers.append(dtls.transport.iceGatherer)
    if pc.sctp is not None and pc.sctp.transport.transport.iceGatherer not in gatherers:
        gatherers.append(pc.sctp.transport.transport.iceGatherer)
    return gatherers


def restrict_host_addresses(
    pc: RTCPeerConnection,
    hosts: Iterable[str] | None,
    ports: tuple[int, int] | None = None,
) -> None:
    """Make `pc` gather host candidates on `hosts` only (127.0.0.1 allowed; None: every
    interface), bound within `ports` (None: any port).

    aioice has no option for either: `Connection.gather_candidates` asks the module function
    `aioice.ice.get_host_addresses()`, which skips 127.0.0.1, and binds port 0. Patching
    module functions would change every peer connection in the process (and race between
    concurrent offers), so instead `signaling.ports.gather_host_candidates` replaces
    `get_component_candidates` on the aioice Connection objects of this one peer connection
    only. It reaches `RTCIceGatherer._connection` (private, aiortc 1.16 / aioice 0.13;
    `tests/test_signaling_ice.py` fails loudly if that changes).

    Call it after the transports exist (after `setRemoteDescription` when answering, after
    `addTransceiver`/`createDataChannel` when offering) and before `setLocalDescription`, which
    is where aiortc gathers. Server-reflexive and relayed candidates are still gathered from
    the configured servers, if any.
    """
    addresses = None if hosts is None else list(hosts)
    gatherers = _ice_gatherers(pc)
    if not gatherers:
        raise RuntimeError("restrict_host_addresses: the peer connection has no transport yet")
    for gatherer in gatherers:
        if gatherer.state != "new":
            raise RuntimeError("restrict_host_addresses must run before gathering starts")
        connection = gatherer._connection
        connection.get_component_candidates = gather_host_candidates(  # type: ignore[method-assign]
            connection, addresses, ports
        )


def _candidate_address(line: str) -> str | None:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
    fields = line.split()
    return fields[4] if len(fields) >= 8 else None


def filter_sdp_candidates(sdp: str, allowed: Callable[[str], bool]) -> tuple[str, int]:
    """Remove `a=candidate` lines whose address `allowed` rejects.

    Returns the new SDP and how many candidates were kept. Malformed candidate lines are
    dropped too. Line endings are normalised to CRLF, as SDP requires.
    """
    kept_lines: list[str] = []
    kept = 0
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            address = _candidate_address(line)
            if address is None or not allowed(address):
                logger.debug("dropping remote candidate %r", line)
                continue
            kept += 1
        kept_lines.append(line)
    return "\r\n".join(kept_lines) + "\r\n", kept
