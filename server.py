"""The proctoring server: `python server.py` runs it; `create_app(settings)` builds it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from aiohttp import web
from aiohttp.typedefs import Middleware
from sqlalchemy import select

from api.access_log import AccessLogger
from api.accounts import create_user
from api.attempts import expire_overdue
from api.console_feed import ConsoleFeed
from api.errors import ApiError, error_middleware
from api.forwarded import TrustedProxies, forwarded_middleware
from api.health import METRICS, MetricsState, metrics_middleware
from api.routes import OPERATIONS, setup_routes
from api.services import SERVICES, Services
from auth.media import MediaPasses
from auth.throttle import LoginGuard, SlidingWindow, Windows
from auth.tickets import TicketBook, Tickets
from auth.tokens import TokenIssuer
from cluster.node import ClusterNode
from cluster.shared import RedisTickets, RedisWindows
from core.datadir import create_private_file, secure_data_dir
from core.settings import Settings, SettingsError, ensure_secret_key, load_settings
from live.hub import LiveHub
from live.pipeline import LivePipeline
from live.worker_hub import WorkerHub
from signaling.ice import ice_settings
from storage.alert_store import INTERRUPTED, end_stale_incidents
from storage.blobs import blob_store
from storage.db import create_engine, migrate, session_factory
from storage.models import Role, User, utcnow
from storage.retention import purge_expired

log = logging.getLogger("proctor")

REGISTRATION_WINDOW = 3600.0


def create_app(settings: Settings) -> web.Application:
    settings = ensure_secret_key(settings)
    if ice_settings(settings).static_turn_urls:  # validated here, not at the first offer
        log.warning(
            "a TURN server in PROCTOR_ICE_SERVERS has a static password: the server uses it, "
            "browsers never get it (set PROCTOR_TURN_SECRET to give them minted credentials)"
        )
    metrics = MetricsState(settings.resolved_node_id)
    middlewares: list[Middleware] = [metrics_middleware(metrics.http), error_middleware]
    if settings.trusted_proxies:
        # Outermost: the metrics, the error middleware and every handler see the real client.
        middlewares.insert(0, forwarded_middleware(TrustedProxies(settings.trusted_proxies)))
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    app[METRICS] = metrics
    engine = create_engine(settings.resolved_database_url)
    db = session_factory(engine)
    node = ClusterNode(settings, db) if settings.clustered else None
    logins, registrations, tickets = _shared_counts(settings, node)
    app[SERVICES] = Services(
        settings=settings,
        engine=engine,
        db=db,
        tokens=TokenIssuer(settings.secret_key, settings.token_ttl_seconds),
        logins=logins,
        registrations=registrations,
        tickets=tickets,
        blobs=blob_store(settings.data_dir, settings.clustered, db),
        media_passes=MediaPasses(settings.secret_key, settings.token_ttl_seconds),
        node=node,
    )
    setup_routes(app, OPERATIONS)
    if node is not None:
        node.setup_routes(app)
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.append(live_context)
    app.cleanup_ctx.append(deadline_context)
    app.cleanup_ctx.append(retention_context)
    return app


def _shared_counts(
    settings: Settings, node: ClusterNode | None
) -> tuple[LoginGuard, Windows, Tickets]:
    """The throttles and WebSocket tickets: in memory on one box, in Redis across nodes."""
    if node is None:
        logins = LoginGuard.in_memory(
            settings.login_attempts, settings.login_address_attempts, settings.login_window_seconds
        )
        per_address = SlidingWindow(settings.registrations_per_address, REGISTRATION_WINDOW)
        return logins, per_address, TicketBook()
    redis, window = node.redis, settings.login_window_seconds
    logins = LoginGuard(
        RedisWindows(redis, "login-pair", settings.login_attempts, window),
        RedisWindows(redis, "login-address", settings.login_address_attempts, window),
        RedisWindows(redis, "login-username", settings.login_attempts, window),
    )
    registrations = RedisWindows(
        redis, "register", settings.registrations_per_address, REGISTRATION_WINDOW
    )
    return logins, registrations, RedisTickets(redis)


async def database_context(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    settings = services.settings
    secure_data_dir(settings.data_dir)
    if not settings.database_url:
        create_private_file(settings.data_dir / "proctor.db")
    await migrate(services.engine)
    async with services.db() as db:
        node = services.settings.resolved_node_id if services.settings.clustered else None
        if stale := await end_stale_incidents(db, utcnow(), node):
            log.warning(
                "ended the open incidents of %d attempts left by a previous run that did not "
                "shut down (%s)",
                len(stale),
                INTERRUPTED,
            )
    if settings.admin_username and settings.admin_password:
        await ensure_admin(services, settings.admin_username, settings.admin_password)
    yield
    await services.engine.dispose()


async def live_context(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    local: LivePipeline
    if services.settings.live_workers:
        local = WorkerHub(services.settings, services.db)
        await local.start()
    else:
        local = LiveHub(services.settings, services.db, services.blobs)
    async with contextlib.AsyncExitStack() as stack:
        live: LivePipeline = local
        if services.node is not None:
            live = await stack.enter_async_context(services.node.running(local))
        services.live = live
        feed = await stack.enter_async_context(ConsoleFeed(services, live).running())
        services.console_feed = feed
        if services.node is not None:
            services.node.watched = feed.bus.subscribed_exams
            services.node.focused = feed.focused_sessions
        yield
        services.console_feed = None
    # Before the database goes: open incidents are ended and stored, peers hung up.
    await local.close()
    services.live = None


EXPIRY_SWEEP_SECONDS = 5.0


async def deadline_context(app: web.Application) -> AsyncIterator[None]:
    """Attempts end at their deadline even when nobody submits or looks at them."""
    services = app[SERVICES]

    async def sweep() -> None:
        while True:
            await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
            try:
                if closed := await expire_overdue(services):
                    log.info("expired %d attempts past their deadline", closed)
            except Exception:
                log.exception("expiring overdue attempts failed; trying again")

    task = asyncio.create_task(sweep(), name="expire-overdue-attempts")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


RETENTION_SWEEP_SECONDS = 3600.0


async def retention_context(app: web.Application) -> AsyncIterator[None]:
    """Recordings, evidence and face descriptors past their retention go, every hour."""
    services = app[SERVICES]

    async def sweep() -> None:
        while True:
            try:
                report = await purge_expired(
                    services.db, services.blobs, services.settings.retention_days, utcnow()
                )
                if report.sessions or report.descriptors:
                    log.info(
                        "retention: purged %d attempts (%d files) and %d face descriptors",
                        len(report.sessions),
                        report.files,
                        report.descriptors,
                    )
            except Exception:
                log.exception("purging data past its retention failed; trying again")
            await asyncio.sleep(RETENTION_SWEEP_SECONDS)

    task = asyncio.create_task(sweep(), name="retention-purge")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def ensure_admin(services: Services, username: str, password: str) -> bool:
    """Create the admin if no user has that name; True when created."""
    async with services.db() as db:
        found = await db.execute(select(User.id).where(User.username == username))
        if found.first() is not None:
            return False
        await create_user(db, username, password, Role.ADMIN)
    log.info("created admin account %r", username)
    return True


async def _create_admin_command(settings: Settings, username: str, password_env: str) -> int:
    password = os.environ.get(password_env, "")
    if len(password) < 8:
        print(f"set {password_env} to the new admin's password (8+ characters)", file=sys.stderr)
        return 2
    app = create_app(replace(settings, live_workers=0))  # no live candidates to hold
    async with _started(app):
        try:
            created = await ensure_admin(app[SERVICES], username, password)
        except ApiError as error:
            print(error.message, file=sys.stderr)
            return 1
    print(f"admin {username!r} {'created' if created else 'already exists'}")
    return 0 if created else 1


class _started:
    """Run an app's start-up and clean-up without serving it (for command-line tasks)."""

    def __init__(self, app: web.Application) -> None:
        self.runner = web.AppRunner(app)

    async def __aenter__(self) -> None:
        await self.runner.setup()

    async def __aexit__(self, *_exc: object) -> None:
        await self.runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings, args = load_settings(argv=sys.argv[1:] if argv is None else argv)
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Whatever this process and its workers create (database, evidence) is owner-only.
    os.umask(0o077)
    if args.command == "create-admin":
        return asyncio.run(_create_admin_command(settings, args.username, args.password_env))
    try:
        ssl_context = tls_context(settings)
    except (OSError, ssl.SSLError) as error:
        print(f"configuration error: cannot use the TLS certificate/key: {error}", file=sys.stderr)
        return 2
    scheme = "https" if ssl_context else "http"
    # run_app handles SIGINT and SIGTERM: it stops accepting, runs on_shutdown (peer
    # connections) and then the cleanup contexts (pipeline flush, database).
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ssl_context=ssl_context,
        access_log_class=AccessLogger,
        print=lambda _: log.info("listening on %s://%s:%d", scheme, settings.host, settings.port),
    )
    return 0


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context from PROCTOR_TLS_CERT/KEY; None for plain http."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


if __name__ == "__main__":
    sys.exit(main())
