"""The migrations build exactly the schema the models describe, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from storage.db import alembic_config, create_engine, migrate
from storage.models import Base
from tests.services import Postgres


def differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models_and_sqlite_runs_in_wal(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await migrate(engine)
        await migrate(engine)  # idempotent: a restart upgrades nothing

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert (mode, keys, version) == ("wal", 1, head)
    finally:
        await engine.dispose()


async def test_migrations_match_the_models_on_postgresql(postgres: Postgres) -> None:
    engine = create_engine(postgres.new_database())  # empty, not the migrated template
    try:
        await migrate(engine)
        await migrate(engine)

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
