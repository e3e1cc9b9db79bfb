"""Fixtures: the real app from the real factory, on a real SQLite file per test, and for the
storage, API and live-pipeline tests on a real PostgreSQL database as well."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.settings import Settings
from server import create_app
from storage.db import create_engine, migrate
from tests.services import TEMPLATE, Postgres, Redis, running_postgres, running_redis

pytest_plugins = ["pytest_aiohttp"]

ADMIN = ("root", "admin-password-1")


BOTH_DATABASES = (
    "test_storage_",
    "test_api_",
    "test_live_pipeline",
    "test_live_lifecycle",
    "test_console_api",
)
"""Test modules that run once on SQLite and once on PostgreSQL."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    if "database" in metafunc.fixturenames and module.startswith(BOTH_DATABASES):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the run, with a migrated template to copy per test."""
    with running_postgres() as server:
        server.psql(f"CREATE DATABASE {TEMPLATE}")
        engine = create_engine(server.url(TEMPLATE))

        async def migrated() -> None:
            await migrate(engine)
            await engine.dispose()

        # In a thread of its own: the first test to ask may be running an event loop.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, migrated()).result()
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    with running_redis() as server:
        yield server


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """ "sqlite" (the default) or "postgresql" for the modules in `BOTH_DATABASES`."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database: str) -> str:
    """Empty for SQLite in the data dir; else a fresh copy of the migrated template."""
    if database == "sqlite":
        return ""
    postgres: Postgres = request.getfixturevalue("postgres")
    return postgres.new_database(template=TEMPLATE)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        admin_username=ADMIN[0],
        admin_password=ADMIN[1],
        ice_hosts=("127.0.0.1",),
        stream_lost_grace_seconds=1.0,
        detector_threads=2,
        analysis_processes=1,
        live_workers=0,  # the live pipeline in the test's process; tests/test_live_workers.py
        # The test clients encode their video in the server's own event loop, which makes it
        # late now and then; admission by loop lag is tested on its own (test_live_admission).
        max_loop_lag_seconds=10.0,
        max_analysis_load=5.0,  # admission by load too: tests/test_live_admission.py
        max_cpu_load=5.0,
    )


@dataclass
class Api:
    """A thin caller of the real HTTP API, remembering tokens per user."""

    client: TestClient[Any, Any]

    async def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.request(method, path, headers=headers, **kwargs)
        if response.content_type == "application/json":
            body = await response.json()
        else:
            body = await response.read()
        return response.status, body

    async def ok(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, token, **kwargs)
        assert 200 <= status < 300, (status, body)
        return body

    async def login(self, username: str, password: str) -> str:
        body = await self.ok("POST", "/login", json={"username": username, "password": password})
        return str(body["access_token"])

    async def admin(self) -> str:
        return await self.login(*ADMIN)

    async def candidate(
        self, username: str, password: str = "candidate-pass-1", *, consent: bool = True
    ) -> str:
        """A new candidate's token; with `consent`, they agreed to the recording notice (as
        the page asks before the reference photo): without it no attempt starts."""
        await self.ok("POST", "/register", json={"username": username, "password": password})
        token = await self.login(username, password)
        if consent:
            notice = await self.ok("GET", "/api/consent", token)
            await self.ok("POST", "/api/me/consent", token, json={"version": notice["version"]})
        return token

    async def staff(self, username: str, role: str = "proctor") -> str:
        password = f"{role}-pass-123"
        await self.ok(
            "POST",
            "/api/users",
            await self.admin(),
            json={"username": username, "password": password, "role": role},
        )
        return await self.login(username, password)

    async def exam(self, token: str, **overrides: Any) -> dict[str, Any]:
        exam = {
            "title": "Algebra",
            "duration_minutes": 30,
            "questions": [
                {"text": "2+2?", "options": ["3", "4"], "answer": "4", "points": 2},
                {"text": "Capital of France?", "answer": "Paris", "points": 1},
                {"text": "Explain your reasoning", "points": 5},
            ],
        }
        exam.update(overrides)
        body: dict[str, Any] = await self.ok("POST", "/api/exams", token, json=exam)
        return body

    async def enrol(self, token: str, exam_id: int, *usernames: str) -> None:
        await self.ok(
            "POST", f"/api/exams/{exam_id}/candidates", token, json={"usernames": list(usernames)}
        )


ApiFactory = Callable[[Settings], Awaitable[Api]]


@pytest.fixture
async def make_api(aiohttp_client: Any) -> ApiFactory:
    async def make(settings: Settings) -> Api:
        return Api(await aiohttp_client(create_app(settings)))

    return make


@pytest.fixture
async def api(make_api: ApiFactory, settings: Settings) -> Api:
    return await make_api(settings)


@pytest.fixture
def short_tokens(settings: Settings) -> Settings:
    return replace(settings, token_ttl_seconds=1)
