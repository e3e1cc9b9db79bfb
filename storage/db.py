"""The async engine, schema migrations on start, and the session factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x70726F63  # "proc": one advisory lock key for schema changes
SWEEP_LOCK = 0x73776570  # "swep": one node at a time sweeps overdue attempts


async def only_one_node(db: AsyncSession, key: int) -> bool:
    """True if this transaction got the cluster-wide lock `key` (PostgreSQL advisory lock,
    let go at commit); always True on SQLite, which one box uses alone."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    found = await db.execute(
        sqlalchemy.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}
    )
    return bool(found.scalar_one())


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_sync_engine(url: str) -> Engine:
    """A plain (pysqlite) engine on an `sqlite+aiosqlite` URL's file, with the same pragmas."""
    engine = sqlalchemy.create_engine(url.replace("sqlite+aiosqlite", "sqlite", 1))
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (alert history) run while the pipeline writes alerts;
    # SQLite leaves foreign keys off unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Create or upgrade the schema to the newest migration."""

    def upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Nodes starting together migrate one after the other; the lock goes with the
            # transaction. (SQLite has one writer anyway.)
            await connection.execute(
                sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(upgrade)
    log.info("database schema is up to date")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
