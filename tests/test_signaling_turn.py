"""TURN credentials minted by the server, checked by a real coturn (`use-auth-secret`):
what a page is given works, forged, altered or expired credentials are refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from aioice import stun

from core.settings import Settings
from signaling.ice import IceSettings
from signaling.turn import mint_turn_credential
from tests.conftest import ApiFactory
from tests.turn_server import allocate, coturn


async def test_coturn_accepts_what_the_server_mints_and_nothing_else(
    make_api: ApiFactory, settings: Settings, tmp_path: Path
) -> None:
    async with coturn(tmp_path / "turn") as turn_server:
        api = await make_api(
            replace(
                settings,
                ice_servers=("stun:127.0.0.1:3478", turn_server.url),
                turn_secret=turn_server.secret,
                turn_ttl_seconds=600,
            )
        )
        token = await api.candidate("tina")
        me = await api.ok("GET", "/api/me", token)
        config = await api.ok("GET", "/api/ice-servers", token)
        assert config["ice_transport_policy"] == "all"
        stun_entry, turn_entry = config["ice_servers"]
        assert stun_entry == {"urls": "stun:127.0.0.1:3478", "username": None, "credential": None}
        assert turn_entry["urls"] == turn_server.url
        expiry, _, user = turn_entry["username"].partition(":")
        assert user == str(me["id"]) and int(expiry) == config["expires_at"]

        host, port = await allocate(
            turn_server.port, turn_entry["username"], turn_entry["credential"]
        )
        assert host == "127.0.0.1"
        assert turn_server.relay_ports[0] <= port <= turn_server.relay_ports[1]

        forged = mint_turn_credential("not-the-secret", str(me["id"]), 600)
        expired = mint_turn_credential(turn_server.secret, str(me["id"]), -60)
        for credential in (forged, expired):
            with pytest.raises(stun.TransactionFailed, match="401"):
                await allocate(turn_server.port, credential.username, credential.password)
        # Another user's name with this user's password: the HMAC covers the username.
        other = f"{expiry}:{int(me['id']) + 1}"
        with pytest.raises(stun.TransactionFailed, match="401"):
            await allocate(turn_server.port, other, turn_entry["credential"])
        assert "401" in turn_server.log_text()


def test_static_turn_passwords_never_reach_a_page() -> None:
    ice = IceSettings(
        servers=("stun:stun.example.org:3478", "turn:bob:pw@turn.example.org:3478"),
        transport_policy="relay",
    )
    assert ice.browser_servers("7") == [{"urls": "stun:stun.example.org:3478"}]
    assert ice.static_turn_urls == ("turn:bob:pw@turn.example.org:3478",)
    minted = IceSettings(servers=("turn:turn.example.org:3478",), turn_secret="s")
    [entry] = minted.browser_servers("7")
    assert entry["username"].endswith(":7") and entry["credential"]
    # The server's own peers get a credential of their own for the same URL.
    [own] = minted.rtc_configuration().iceServers
    assert own.username is not None and own.username.endswith(":server")
    with pytest.raises(ValueError, match="TURN secret"):
        IceSettings(servers=("turn:turn.example.org:3478",))
