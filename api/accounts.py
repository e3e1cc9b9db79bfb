"""Registration, login and account creation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import AuditAction, record
from api.errors import ApiError, conflict, unauthorized
from api.operation import Call
from api.schemas import CreateUserBody, LoginBody, LoginOut, RegisterBody, UserOut
from auth.passwords import hash_password, verify_password
from storage.models import Role, User


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


async def create_user(
    db: AsyncSession,
    username: str,
    password: str,
    role: Role,
    full_name: str | None = None,
    by: User | None = None,
) -> User:
    """The new account, committed; with `by`, the staff member who created it is audited
    in the same transaction."""
    user = User(
        username=username,
        password_hash=await hash_password(password),
        role=role.value,
        full_name=full_name,
    )
    db.add(user)
    try:
        if by is not None:
            await db.flush()  # the new id, for the audit entry
            record(db, by, AuditAction.CHANGED_ACCOUNT, subject_id=user.id, change="created")
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise conflict("username_taken", f"the username {username!r} is taken") from None
    return user


async def register(call: Call) -> UserOut:
    body: RegisterBody = call.body
    async with call.services.db() as db:
        user = await create_user(db, body.username, body.password, Role.CANDIDATE, body.full_name)
    return user_out(user)


async def add_user(call: Call) -> UserOut:
    body: CreateUserBody = call.body
    async with call.services.db() as db:
        user = await create_user(
            db, body.username, body.password, Role(body.role), body.full_name, by=call.caller
        )
    return user_out(user)


async def login(call: Call) -> LoginOut:
    body: LoginBody = call.body
    throttle = call.services.throttle
    keys = (f"user:{body.username.lower()}", f"addr:{call.request.remote}")
    wait = throttle.retry_after(*keys)
    if wait > 0:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed logins; try again in {int(wait) + 1} s",
            retry_after=int(wait) + 1,
        )
    async with call.services.db() as db:
        user = (
            await db.execute(select(User).where(User.username == body.username))
        ).scalar_one_or_none()
    if not await verify_password(user.password_hash if user else None, body.password):
        throttle.failed(*keys)
        raise unauthorized("wrong username or password")
    assert user is not None
    throttle.succeeded(keys[0])
    settings = call.services.settings
    return LoginOut(
        access_token=call.services.tokens.issue(user.id, user.role),
        expires_in=settings.token_ttl_seconds,
        user=user_out(user),
    )


async def me(call: Call) -> UserOut:
    return user_out(call.caller)
