"""Registration, login, tokens and roles through the real app and a real SQLite file."""

from __future__ import annotations

import base64
import json

import jwt

from auth.tokens import TokenIssuer
from core.settings import Settings
from tests.conftest import Api, ApiFactory


async def test_register_then_login_returns_a_bearer_token(api: Api) -> None:
    status, user = await api.call(
        "POST", "/register", json={"username": "alice", "password": "s3cret-pass", "full_name": "A"}
    )
    assert status == 201
    assert user["role"] == "candidate" and user["username"] == "alice"
    assert "password" not in json.dumps(user) and "hash" not in json.dumps(user)

    status, login = await api.call(
        "POST", "/login", json={"username": "alice", "password": "s3cret-pass"}
    )
    assert status == 200
    assert login["token_type"] == "bearer" and login["expires_in"] == 3600
    assert login["user"]["id"] == user["id"]
    me = await api.ok("GET", "/api/me", login["access_token"])
    assert me["username"] == "alice"


async def test_password_is_stored_as_argon2id(api: Api) -> None:
    from sqlalchemy import select

    from api.services import SERVICES
    from storage.models import User

    await api.candidate("bob", "bob-password-1")
    services = api.client.app[SERVICES]
    async with services.db() as db:
        stored = (
            await db.execute(select(User.password_hash).where(User.username == "bob"))
        ).scalar_one()
    assert stored.startswith("$argon2id$") and "bob-password-1" not in stored


async def test_duplicate_username_is_a_conflict(api: Api) -> None:
    await api.candidate("carol")
    status, body = await api.call(
        "POST", "/register", json={"username": "carol", "password": "another-pass"}
    )
    assert status == 409 and body["error"]["code"] == "username_taken"


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    await api.candidate("dave")
    wrong = await api.call("POST", "/login", json={"username": "dave", "password": "nope-nope"})
    unknown = await api.call("POST", "/login", json={"username": "nobody", "password": "nope-nope"})
    assert (
        wrong
        == unknown
        == (401, {"error": {"code": "unauthorized", "message": "wrong username or password"}})
    )


async def test_failed_logins_are_throttled_per_username_and_address(api: Api) -> None:
    await api.candidate("erin", "erin-password")
    for _ in range(5):
        status, _ = await api.call(
            "POST", "/login", json={"username": "erin", "password": "bad-guess"}
        )
        assert status == 401
    status, body = await api.call(
        "POST", "/login", json={"username": "erin", "password": "erin-password"}
    )
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    assert int(body["error"]["retry_after"]) > 0


async def test_missing_malformed_and_tampered_tokens_are_refused(
    api: Api, settings: Settings
) -> None:
    token = await api.candidate("frank")
    assert (await api.call("GET", "/api/me"))[0] == 401
    assert (await api.call("GET", "/api/me", "not-a-jwt"))[0] == 401
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    status, body = await api.call("GET", "/api/me", f"{header}.{forged}.{signature}")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    assert (await api.call("GET", "/api/me", unsigned))[0] == 401
    other_key = TokenIssuer("another-secret-" + "y" * 32, 3600).issue(claims["sub"], "admin")
    assert (await api.call("GET", "/api/me", other_key))[0] == 401


async def test_expired_token_is_refused_with_a_clear_message(api: Api, settings: Settings) -> None:
    me = await api.ok("GET", "/api/me", await api.candidate("gina"))
    expired = TokenIssuer(settings.secret_key, -5).issue(me["id"], "candidate")
    status, body = await api.call("GET", "/api/me", expired)
    assert status == 401 and "expired" in body["error"]["message"]


async def test_only_admin_creates_staff_accounts(api: Api) -> None:
    candidate = await api.candidate("henry")
    body = {"username": "paula", "password": "proctor-pass", "role": "proctor"}
    status, error = await api.call("POST", "/api/users", candidate, json=body)
    assert status == 403 and error["error"]["code"] == "forbidden"
    proctor = await api.staff("paula")
    status, _ = await api.call(
        "POST",
        "/api/users",
        proctor,
        json={"username": "x1x", "password": "12345678", "role": "admin"},
    )
    assert status == 403
    me = await api.ok("GET", "/api/me", proctor)
    assert me["role"] == "proctor"


async def test_first_admin_comes_from_the_environment_once(
    api: Api, make_api: ApiFactory, settings: Settings
) -> None:
    await api.admin()
    # A second start with the same settings must not fail or duplicate the admin.
    again = await make_api(settings)
    assert (await again.ok("GET", "/api/me", await again.admin()))["role"] == "admin"
