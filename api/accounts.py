"""Registration, sign-in (login, refresh, logout), account creation and disabling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.access import bearer_token, verified_claims
from api.errors import ApiError, conflict, forbidden, not_found, unauthorized
from api.operation import Call
from api.schemas import (
    AccountBody,
    CreateUserBody,
    LoginBody,
    LoginOut,
    LogoutBody,
    LogoutOut,
    RefreshBody,
    RegisterBody,
    TicketOut,
    UserOut,
)
from api.services import Services
from auth.passwords import hash_password, verify_password
from auth.tickets import TicketHolder
from storage.models import Role, User, utcnow
from storage.sign_ins import (
    RefreshRefused,
    end_all_sign_ins,
    end_sign_in,
    revoke_access_token,
    rotate,
    start_sign_in,
)


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


async def create_user(
    db: AsyncSession, username: str, password: str, role: Role, full_name: str | None = None
) -> User:
    user = User(
        username=username,
        password_hash=await hash_password(password),
        role=role.value,
        full_name=full_name,
    )
    db.add(user)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise conflict("username_taken", f"the username {username!r} is taken") from None
    return user


def _too_many(what: str, wait: float) -> ApiError:
    seconds = int(wait) + 1
    return ApiError(
        429, "too_many_attempts", f"too many {what}; try again in {seconds} s", retry_after=seconds
    )


async def register(call: Call) -> UserOut:
    services = call.services
    if not services.settings.self_registration:
        raise ApiError(
            403,
            "registration_closed",
            "accounts on this server are created by an administrator; ask yours for one",
        )
    # Every attempt counts, taken usernames included: each costs a 64 MiB argon2 hash.
    address = str(call.request.remote)
    if wait := await services.registrations.retry_after(address):
        raise _too_many("registrations from your address", wait)
    await services.registrations.hit(address)
    body: RegisterBody = call.body
    async with services.db() as db:
        user = await create_user(db, body.username, body.password, Role.CANDIDATE, body.full_name)
    return user_out(user)


async def add_user(call: Call) -> UserOut:
    body: CreateUserBody = call.body
    async with call.services.db() as db:
        user = await create_user(db, body.username, body.password, Role(body.role), body.full_name)
    return user_out(user)


async def update_account(call: Call) -> UserOut:
    """An admin disables an account (its sign-ins end at once) or enables it again."""
    body: AccountBody = call.body
    user_id = call.path_int("user_id")
    if user_id == call.caller.id and body.disabled:
        raise conflict("own_account", "an admin cannot disable their own account")
    async with call.services.db() as db:
        user = await db.get(User, user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        user.disabled_at = (user.disabled_at or utcnow()) if body.disabled else None
        await db.commit()
        if body.disabled:
            await end_all_sign_ins(db, user_id)
    return user_out(user)


async def login(call: Call) -> LoginOut:
    body: LoginBody = call.body
    guard = call.services.logins
    address = str(call.request.remote)
    verdict = await guard.check(body.username, address)
    if verdict.retry_after > 0:
        raise _too_many("failed logins", verdict.retry_after)
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    async with call.services.db() as db:
        user = (
            await db.execute(select(User).where(User.username == body.username))
        ).scalar_one_or_none()
    if not await verify_password(user.password_hash if user else None, body.password):
        await guard.failed(body.username, address)
        raise unauthorized("wrong username or password")
    assert user is not None
    await guard.succeeded(body.username, address)
    if user.disabled_at is not None:
        raise forbidden("this account has been disabled; ask an administrator")
    async with call.services.db() as db:
        refresh = await start_sign_in(db, user.id, call.services.settings.refresh_ttl_seconds)
    return _signed_in(call.services, user, refresh)


async def refresh(call: Call) -> LoginOut:
    """A new access token, and the next refresh token, for a refresh token (used up)."""
    body: RefreshBody = call.body
    services = call.services
    async with services.db() as db:
        try:
            rotated = await rotate(db, body.refresh_token, services.settings.refresh_ttl_seconds)
        except RefreshRefused as error:
            raise unauthorized(str(error)) from None
        user = await db.get(User, rotated.user_id)
        if user is None or user.disabled_at is not None:
            await end_sign_in(db, rotated.token, rotated.user_id)
            raise unauthorized("this account has been disabled")
    return _signed_in(services, user, rotated.token)


def _signed_in(services: Services, user: User, refresh_token: str) -> LoginOut:
    settings = services.settings
    return LoginOut(
        access_token=services.tokens.issue(user.id, user.role),
        expires_in=settings.token_ttl_seconds,
        refresh_token=refresh_token,
        refresh_expires_in=settings.refresh_ttl_seconds,
        user=user_out(user),
    )


async def logout(call: Call) -> LogoutOut:
    """The access token used here stops at once, and so does the sign-in of the refresh
    token given (every token rotated from it)."""
    body: LogoutBody = call.body
    claims = verified_claims(bearer_token(call.request), call.services)
    async with call.services.db() as db:
        expires_at = datetime.fromtimestamp(claims.expires_at, UTC)
        await revoke_access_token(db, claims.token_id, expires_at)
        if body.refresh_token:
            await end_sign_in(db, body.refresh_token, call.caller.id)
    return LogoutOut(signed_out=True)


async def ws_ticket(call: Call) -> TicketOut:
    tickets = call.services.tickets
    ticket = await tickets.issue(TicketHolder(call.caller.id, call.caller.role))
    return TicketOut(ticket=ticket, expires_in=int(tickets.ttl_seconds))


async def me(call: Call) -> UserOut:
    return user_out(call.caller)
