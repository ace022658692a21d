"""Storage tests run on SQLite and on PostgreSQL.

PostgreSQL comes from TEST_POSTGRES_URL (for example
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``). A fresh database is created for the
test session and dropped after it. In CI (CI=true) an unset or unreachable TEST_POSTGRES_URL
fails the PostgreSQL tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.config import Settings
from bot.storage import Store, commands, db
from bot.storage import models as m

PG_ENV = "TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgresql"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}. CI=true: the PostgreSQL storage tests must run, not skip.")
    pytest.skip(reason)


def _connect_args(url: str) -> dict[str, Any]:
    parsed = db.parse_url(url)
    return {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username,
        "password": parsed.password,
        "database": parsed.database,
    }


async def pg_admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(**_connect_args(url), timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def pg_fetch(url: str, query: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(**_connect_args(url), timeout=5)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def with_database(url: str, name: str) -> str:
    return db.parse_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The TEST_POSTGRES_URL server (skips or, in CI, fails when there is none)."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        _unavailable(
            f"{PG_ENV} is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)"
        )
    try:
        asyncio.run(pg_admin(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        _unavailable(f"PostgreSQL at {PG_ENV} is not reachable ({type(exc).__name__}: {exc})")
    return url


@pytest.fixture(scope="session")
def pg_session_db(pg_server: str) -> Iterator[str]:
    """A database made for this test session, migrated once, dropped at the end."""
    name = f"trialbot_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(pg_server, f'CREATE DATABASE "{name}"'))
    url = with_database(pg_server, name)
    try:
        asyncio.run(commands.upgrade(Settings(database_url=url, _env_file=None)))
        yield url
    finally:
        asyncio.run(pg_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "trialbot.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", _env_file=None)
    asyncio.run(commands.upgrade(settings))
    return path


#: Every table, children first: each test starts from empty ones.
_TABLES = tuple(t.name for t in reversed(m.Base.metadata.sorted_tables))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the test's backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "trialbot.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_session_db")
    asyncio.run(pg_admin(url, *(f"DELETE FROM {table}" for table in _TABLES)))
    return url


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    server: str = request.getfixturevalue("pg_server")
    name = f"trialbot_empty_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server, name)
    finally:
        asyncio.run(pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def key() -> str:
    return commands.keygen()


@pytest.fixture
def settings(db_url: str, key: str) -> Settings:
    return Settings(database_url=db_url, data_encryption_key=key, _env_file=None)


@dataclass
class Clock:
    """A settable clock for the store."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
async def store(settings: Settings, clock: Clock) -> AsyncIterator[Store]:
    opened = await Store.open(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


OpenStore = Callable[..., Any]


@pytest.fixture
async def open_store(settings: Settings, clock: Clock) -> AsyncIterator[OpenStore]:
    """Open more stores on the same database (another process's view); closed at the end."""
    opened: list[Store] = []

    async def make(**overrides: Any) -> Store:
        values = {**settings.model_dump(), **overrides}
        st = await Store.open(Settings(**values, _env_file=None), clock=clock)
        opened.append(st)
        return st

    try:
        yield make
    finally:
        for st in opened:
            await st.close()


def record(state: str = "q1", **extra: Any) -> dict[str, Any]:
    """A record in the engine's format (``Conversation.to_json()``)."""
    data: dict[str, Any] = {
        "rv": 1,
        "flow": "nct06751199",
        "ver": "2025-06",
        "lang": "zh-Hans",
        "state": state,
        "answers": {},
        "history": [],
    }
    data.update(extra)
    return data
