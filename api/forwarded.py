"""The real client behind reverse proxies, believed only from the proxies we trust.

A TLS-terminating proxy (deploy/nginx.conf) connects to us itself, so `request.remote` is
the proxy's address for everyone: the login throttle would lock out every candidate at
once. With `PROCTOR_TRUSTED_PROXIES` set, and only when the TCP peer is one of those
proxies, X-Forwarded-For is read from right to left, skipping trusted hops: the first
address that is not a trusted proxy is the client (entries further left were written by the
client and prove nothing). X-Forwarded-Proto then gives the scheme the client used.

Only X-Forwarded-For is read, not RFC 7239 `Forwarded`: a proxy that sets one usually passes
the other through untouched, so believing both would let a client pick the one it forged.
nginx, Caddy, HAProxy and Traefik all set X-Forwarded-For.

Why not aiohttp-remotes: its strict middlewares answer a request from an untrusted peer, or
with two X-Forwarded-For headers, with a plain-text 400 instead of ignoring the headers
(our errors are JSON, and a direct health check must still work), and its `trusted` list is
one entry per hop in a fixed chain; the access log needs the same answer outside the
middleware too (`client_address`). Forty lines here do exactly what we need.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

CLIENT_ADDRESS = web.RequestKey("client_address", str)
"""Key of the original request where the middleware leaves the client's address for the
access log (which is given the request as it arrived, not the middleware's clone)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in networks
        )

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """The client's address: the peer, or what trusted proxies say the peer relayed."""
        if not self.trusts(peer):
            return peer
        client = peer
        for hop in reversed(_forwarded_for(headers)):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # garbage to the left of the last trusted hop: stop believing
            client = hop
            if not self.trusts(hop):
                break
        return client

    def scheme(self, peer: str | None, headers: Mapping[str, str], default: str) -> str:
        if not self.trusts(peer):
            return default
        proto = headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
        return proto if proto in ("http", "https") else default


def _forwarded_for(headers: Mapping[str, str]) -> list[str]:
    values = headers.getall("X-Forwarded-For", []) if hasattr(headers, "getall") else []
    return [hop.strip() for value in values for hop in value.split(",") if hop.strip()]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def forwarded_middleware(proxies: TrustedProxies) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote
        if not proxies.trusts(peer):
            return await handler(request)
        client = proxies.client(peer, request.headers) or ""
        request[CLIENT_ADDRESS] = client
        scheme = proxies.scheme(peer, request.headers, request.scheme)
        return await handler(request.clone(remote=client, scheme=scheme))

    return middleware


def client_address(request: web.BaseRequest) -> str | None:
    """The client's address as the middleware decided it (the peer if it did not run)."""
    return request.get(CLIENT_ADDRESS) or request.remote
