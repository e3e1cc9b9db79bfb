"""Signed in for the whole attempt and no longer: refresh tokens that rotate, sign-out,
revoked access tokens, disabled accounts. Real app, real SQLite file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.services import SERVICES
from storage.models import RefreshToken
from tests.conftest import Api


async def sign_in(api: Api, username: str, password: str = "candidate-pass-1") -> dict[str, Any]:
    body: dict[str, Any] = await api.ok(
        "POST", "/login", json={"username": username, "password": password}
    )
    return body


async def refresh(api: Api, token: str) -> tuple[int, Any]:
    return await api.call("POST", "/refresh", json={"refresh_token": token})


async def test_a_refresh_token_works_once_and_is_stored_only_as_a_hash(api: Api) -> None:
    await api.candidate("rosa")
    first = await sign_in(api, "rosa")
    assert first["refresh_expires_in"] == 12 * 3600 and first["expires_in"] == 3600

    status, second = await refresh(api, first["refresh_token"])
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await api.ok("GET", "/api/me", second["access_token"]))["username"] == "rosa"

    async with api.client.app[SERVICES].db() as db:
        stored = (await db.execute(select(RefreshToken.token_hash))).scalars().all()
    assert len(stored) == 3  # api.candidate signed in once too
    assert all(len(h) == 64 for h in stored)
    assert first["refresh_token"] not in stored and second["refresh_token"] not in stored

    status, _ = await refresh(api, "made-up-token")
    assert status == 401


async def test_a_used_refresh_token_coming_back_ends_the_whole_sign_in(api: Api) -> None:
    await api.candidate("theo")
    first = await sign_in(api, "theo")
    status, second = await refresh(api, first["refresh_token"])
    assert status == 200
    # Someone replays the first token (a stolen copy): refused, and the family goes with it.
    status, body = await refresh(api, first["refresh_token"])
    assert status == 401 and "already used" in body["error"]["message"]
    status, body = await refresh(api, second["refresh_token"])
    assert status == 401 and "revoked" in body["error"]["message"]
    # Another sign-in of the same user is not touched.
    other = await sign_in(api, "theo")
    assert (await refresh(api, other["refresh_token"]))[0] == 200


async def test_sign_out_revokes_the_access_token_and_the_refresh_token(api: Api) -> None:
    await api.candidate("uma")
    signed = await sign_in(api, "uma")
    access = signed["access_token"]
    await api.ok("GET", "/api/me", access)
    out = await api.ok("POST", "/logout", access, json={"refresh_token": signed["refresh_token"]})
    assert out == {"signed_out": True}
    status, body = await api.call("GET", "/api/me", access)
    assert status == 401 and "revoked" in body["error"]["message"]
    status, body = await refresh(api, signed["refresh_token"])
    assert status == 401 and "revoked" in body["error"]["message"]


async def test_a_disabled_account_is_signed_out_everywhere_at_once(api: Api) -> None:
    admin = await api.admin()
    await api.candidate("vera")
    signed = await sign_in(api, "vera")
    me = await api.ok("GET", "/api/me", signed["access_token"])

    disabled = await api.ok("PATCH", f"/api/users/{me['id']}", admin, json={"disabled": True})
    assert disabled["disabled_at"] is not None
    status, body = await api.call("GET", "/api/me", signed["access_token"])
    assert status == 401 and "disabled" in body["error"]["message"]
    assert (await refresh(api, signed["refresh_token"]))[0] == 401
    status, body = await api.call(
        "POST", "/login", json={"username": "vera", "password": "candidate-pass-1"}
    )
    assert status == 403 and "disabled" in body["error"]["message"]

    # Enabled again: a new sign-in works, the old refresh token stays dead.
    enabled = await api.ok("PATCH", f"/api/users/{me['id']}", admin, json={"disabled": False})
    assert enabled["disabled_at"] is None
    again = await sign_in(api, "vera")
    await api.ok("GET", "/api/me", again["access_token"])
    assert (await refresh(api, signed["refresh_token"]))[0] == 401


async def test_only_an_admin_disables_and_not_themself(api: Api) -> None:
    admin = await api.admin()
    proctor = await api.staff("pia")
    me = await api.ok("GET", "/api/me", admin)
    status, body = await api.call("PATCH", f"/api/users/{me['id']}", admin, json={"disabled": True})
    assert status == 409 and body["error"]["code"] == "own_account"
    status, _ = await api.call("PATCH", f"/api/users/{me['id']}", proctor, json={"disabled": True})
    assert status == 403
    status, _ = await api.call("PATCH", "/api/users/99999", admin, json={"disabled": True})
    assert status == 404
