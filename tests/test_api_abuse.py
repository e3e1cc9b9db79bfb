"""The public doors under abuse: registration floods, password guessing, a stranger trying to
lock a candidate out, tokens in URLs. Clients at different addresses come through a
trusted proxy on 127.0.0.1 (X-Forwarded-For), as behind deploy/nginx.conf."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from auth.throttle import USERNAME_DELAY_SECONDS
from core.settings import Settings
from tests.conftest import Api, ApiFactory


@pytest.fixture
def proxied(settings: Settings) -> Settings:
    return replace(settings, trusted_proxies=("127.0.0.1",))


def client(address: str) -> dict[str, dict[str, str]]:
    return {"headers": {"X-Forwarded-For": address}}


async def test_registration_is_throttled_per_client_address(
    make_api: ApiFactory, proxied: Settings
) -> None:
    api = await make_api(replace(proxied, registrations_per_address=3))
    for n in range(3):
        body = {"username": f"flood{n}", "password": "flood-password"}
        status, _ = await api.call("POST", "/register", json=body, **client("198.51.100.7"))
        assert status == 201
    status, body = await api.call(
        "POST", "/register", json={"username": "flood9", "password": "p" * 10},
        **client("198.51.100.7"),
    )  # fmt: skip
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    assert body["error"]["retry_after"] > 0
    # Someone else, elsewhere, still registers.
    status, _ = await api.call(
        "POST", "/register", json={"username": "walt", "password": "walt-password"},
        **client("203.0.113.5"),
    )  # fmt: skip
    assert status == 201


async def test_self_registration_can_be_turned_off(
    make_api: ApiFactory, settings: Settings
) -> None:
    api = await make_api(replace(settings, self_registration=False))
    status, body = await api.call(
        "POST", "/register", json={"username": "xena", "password": "xena-password"}
    )
    assert status == 403 and body["error"]["code"] == "registration_closed"
    # Admins still create accounts.
    await api.staff("yuri", role="candidate")


async def test_a_stranger_cannot_lock_a_candidate_out(
    make_api: ApiFactory, proxied: Settings
) -> None:
    api = await make_api(proxied)
    await api.candidate("alice", "alice-password")
    guess = {"username": "alice", "password": "wrong-guess"}
    for _ in range(5):
        assert (await api.call("POST", "/login", json=guess, **client("198.51.100.66")))[0] == 401
    # The guesser is stopped...
    status, body = await api.call(
        "POST", "/login", json={"username": "alice", "password": "alice-password"},
        **client("198.51.100.66"),
    )  # fmt: skip
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    # ...alice, from her own address, is not: a short delay, no lock.
    started = time.monotonic()
    status, body = await api.call(
        "POST", "/login", json={"username": "alice", "password": "alice-password"},
        **client("203.0.113.10"),
    )  # fmt: skip
    assert status == 200, body
    assert time.monotonic() - started >= USERNAME_DELAY_SECONDS


async def test_one_address_spraying_many_usernames_hits_a_ceiling(
    make_api: ApiFactory, proxied: Settings
) -> None:
    api = await make_api(replace(proxied, login_address_attempts=6))
    for n in range(6):
        body = {"username": f"user{n}", "password": "wrong-guess"}
        assert (await api.call("POST", "/login", json=body, **client("198.51.100.9")))[0] == 401
    status, body = await api.call(
        "POST", "/login", json={"username": "user99", "password": "wrong-guess"},
        **client("198.51.100.9"),
    )  # fmt: skip
    assert status == 429
    status, _ = await api.call(
        "POST", "/login", json={"username": "user99", "password": "wrong-guess"},
        **client("198.51.100.10"),
    )  # fmt: skip
    assert status == 401


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_api: ApiFactory, settings: Settings
) -> None:
    # Only 10.0.0.0/8 is a trusted proxy: the test client (127.0.0.1) is not one.
    api = await make_api(replace(settings, trusted_proxies=("10.0.0.0/8",)))
    guess = {"username": "nobody", "password": "wrong-guess"}
    for n in range(5):
        status, _ = await api.call("POST", "/login", json=guess, **client(f"192.0.2.{n}"))
        assert status == 401
    # A new forged address each time changed nothing: the peer's own address is throttled.
    status, _ = await api.call("POST", "/login", json=guess, **client("192.0.2.200"))
    assert status == 429


async def test_the_console_websocket_takes_a_single_use_ticket_never_a_token(api: Api) -> None:
    admin = await api.admin()
    exam = await api.exam(admin)
    path = f"/api/exams/{exam['id']}/live"

    response = await api.client.get(f"{path}?token={admin}")
    assert response.status == 401  # a token in the URL is not accepted any more

    ticket = (await api.ok("POST", "/api/ws-ticket", admin))["ticket"]
    async with api.client.ws_connect(f"{path}?ticket={ticket}") as ws:
        snapshot = await ws.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["exam_id"] == exam["id"]
    response = await api.client.get(f"{path}?ticket={ticket}")
    assert response.status == 401  # spent
    assert "already used" in (await response.json())["error"]["message"]

    candidate = await api.candidate("cleo")
    assert (await api.call("POST", "/api/ws-ticket", candidate))[0] == 403


async def test_a_ticket_expires(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.services import SERVICES

    admin = await api.admin()
    exam = await api.exam(admin)
    tickets = api.client.app[SERVICES].tickets
    now = time.monotonic()
    monkeypatch.setattr(tickets, "_clock", lambda: now)
    ticket = (await api.ok("POST", "/api/ws-ticket", admin))["ticket"]
    monkeypatch.setattr(tickets, "_clock", lambda: now + tickets.ttl_seconds + 1)
    response = await api.client.get(f"/api/exams/{exam['id']}/live?ticket={ticket}")
    assert response.status == 401
