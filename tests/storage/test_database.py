"""Migrations, start-up errors, and a process killed right after a commit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bot.config import Settings
from bot.storage import (
    DatabaseConfigError,
    DatabaseUnavailableError,
    SchemaNotReadyError,
    Store,
    commands,
    db,
)
from bot.storage.migrations import current_revision, head_revision
from bot.storage.models import Base

ROOT = Path(__file__).resolve().parents[2]


def snapshot(conn: Connection) -> dict[str, Any]:
    """Everything about the schema that a migration could change."""
    insp = inspect(conn)
    tables: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
            ],
            "indexes": sorted(
                (i["name"] or "", tuple(i["column_names"])) for i in insp.get_indexes(table)
            ),
            "unique": sorted(str(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "fks": sorted(str(f["referred_table"]) for f in insp.get_foreign_keys(table)),
        }
    return {"tables": tables, "revision": current_revision(conn)}


async def read(url: str, fn: Any) -> Any:
    engine = db.create_async(db.parse_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def test_migrations_apply_on_an_empty_database_and_again_change_nothing(
    empty_db_url: str,
) -> None:
    settings = Settings(database_url=empty_db_url, _env_file=None)
    assert (await read(empty_db_url, snapshot))["tables"] == {}
    await commands.upgrade(settings)
    first = await read(empty_db_url, snapshot)
    assert first["revision"] == head_revision()
    assert {"conversations", "answers", "outbox", "meta", "alembic_version"} <= set(first["tables"])

    await commands.upgrade(settings)  # again
    assert await read(empty_db_url, snapshot) == first

    def diff(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    assert await read(empty_db_url, diff) == []  # the models and the migrations agree


async def test_an_unmigrated_database_asks_for_db_upgrade(empty_db_url: str, key: str) -> None:
    settings = Settings(database_url=empty_db_url, data_encryption_key=key, _env_file=None)
    with pytest.raises(SchemaNotReadyError, match="python -m bot db upgrade"):
        await Store.open(settings)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://trialbot:s3cret-pw@127.0.0.1:1/nothing",
        "postgresql+asyncpg://postgres@nonexistent-host.invalid:5432/x",
    ],
)
async def test_an_unreachable_database_names_database_url(url: str, key: str) -> None:
    settings = Settings(database_url=url, data_encryption_key=key, _env_file=None)
    for attempt in (Store.open(settings, busy_timeout=1), commands.upgrade(settings)):
        with pytest.raises(DatabaseUnavailableError) as caught:
            await attempt
        assert "DATABASE_URL" in str(caught.value)
        assert "s3cret-pw" not in str(caught.value)


@pytest.mark.parametrize("url", ["not a url", "mysql+aiomysql://u@h/db", "sqlite+nosuch:///x"])
async def test_a_bad_database_url_names_database_url(url: str, key: str) -> None:
    settings = Settings(database_url=url, data_encryption_key=key, _env_file=None)
    with pytest.raises(DatabaseConfigError, match="DATABASE_URL"):
        await Store.open(settings)
    with pytest.raises(DatabaseConfigError, match="DATABASE_URL"):
        await commands.upgrade(settings)


async def test_a_file_that_is_not_a_database_names_database_url(tmp_path: Path, key: str) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database file" * 200)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{path}", data_encryption_key=key, _env_file=None
    )
    with pytest.raises(DatabaseUnavailableError, match="DATABASE_URL"):
        await commands.upgrade(settings)
    with pytest.raises(DatabaseUnavailableError, match="DATABASE_URL"):
        await Store.open(settings)


async def test_a_locked_sqlite_database_names_database_url(
    sqlite_template: Path, tmp_path: Path, key: str
) -> None:
    path = tmp_path / "locked.db"
    path.write_bytes(sqlite_template.read_bytes())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("BEGIN EXCLUSIVE")  # another process is writing and does not stop
    try:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{path}", data_encryption_key=key, _env_file=None
        )
        with pytest.raises(DatabaseUnavailableError, match=r"DATABASE_URL.*locked"):
            await Store.open(settings, busy_timeout=0.2)
        with pytest.raises(DatabaseUnavailableError, match=r"DATABASE_URL.*locked"):
            await commands.upgrade(settings, busy_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_default_database_is_sqlite_under_data(tmp_path: Path, key: str) -> None:
    os.chdir(tmp_path)  # the default URL is relative to the working directory
    try:
        import asyncio

        settings = Settings(data_encryption_key=key, _env_file=None)
        assert settings.database_url == "sqlite+aiosqlite:///data/trialbot.db"
        asyncio.run(commands.upgrade(settings))
        store = asyncio.run(Store.open(settings))
        asyncio.run(store.close())
        assert (tmp_path / "data" / "trialbot.db").exists()
        mode = sqlite3.connect(tmp_path / "data" / "trialbot.db").execute("PRAGMA journal_mode")
        assert mode.fetchone() == ("wal",)
    finally:
        os.chdir(ROOT)


async def test_an_answer_committed_before_sigkill_is_kept(db_url: str, key: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_url, "DATA_ENCRYPTION_KEY": key}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("kill_after_commit.py"))],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.strip() == "committed"

    settings = Settings(database_url=db_url, data_encryption_key=key, _env_file=None)
    store = await Store.open(settings)
    try:
        history = await store.answer_history("tg:314")
        assert [(a.fact, a.value, a.raw) for a in history] == [("weight", "65.0", "130斤")]
        async with store.turn("tg:314", 2718) as turn:
            assert turn.duplicate  # and its update was marked in the same commit
        async with store.turn("tg:314", 2719) as turn:
            assert turn.record is not None and turn.record["state"] == "hba1c"
    finally:
        await store.close()
