"""Engines from DATABASE_URL, and clear errors when the database cannot be used.

Two kinds of database are supported:

* SQLite (``sqlite+aiosqlite:///data/trialbot.db``, the default). The parent directory is
  created. Every connection gets WAL, ``synchronous=NORMAL`` (a commit survives a killed
  process; only a power cut may lose the last commits), a busy timeout and foreign keys.
  Transactions are begun explicitly (``BEGIN`` / ``BEGIN IMMEDIATE``), so DDL is
  transactional too.
* PostgreSQL through asyncpg (``postgresql+asyncpg://...``; ``postgresql://`` means the same).

The asynchronous engine (aiosqlite or asyncpg) runs migrations and PostgreSQL work. For SQLite
the store also opens a plain ``sqlite3`` engine: one aiosqlite round trip costs more than a
whole ``sqlite3`` transaction, so turns use that connection inline on the event loop and other
work runs on it as one call in a worker thread (see ``backends/sqlite.py``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.storage.errors import DatabaseConfigError, DatabaseUnavailableError, StorageError

SQLITE_ASYNC_DRIVER = "sqlite+aiosqlite"
SQLITE_SYNC_DRIVER = "sqlite+pysqlite"
PG_DRIVER = "postgresql+asyncpg"
#: PostgreSQL connections per process: kept open, and opened on demand beyond those.
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 10
#: The most PostgreSQL connections one process uses at once. The store lets no more than this
#: many turns or queries wait for the pool (a FIFO ``asyncio.Semaphore``): SQLAlchemy's async
#: pool is not first-come-first-served, so with more waiters than connections one waiter can
#: lose every hand-over until its 30-second pool timeout, and its update is lost.
PG_MAX_CONNECTIONS = PG_POOL_SIZE + PG_MAX_OVERFLOW


def parse_url(url: str) -> URL:
    """Parse and normalise DATABASE_URL; a clear error naming DATABASE_URL if it is unusable."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseConfigError(
            "DATABASE_URL is not a database URL. Examples: sqlite+aiosqlite:///data/trialbot.db "
            "or postgresql+asyncpg://user:password@host:5432/dbname"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    driver = driver or {"sqlite": "pysqlite", "postgresql": "psycopg2"}.get(backend, "")
    if backend == "sqlite" and driver in {"pysqlite", "aiosqlite"}:
        return parsed.set(drivername=SQLITE_ASYNC_DRIVER)
    if backend == "postgresql" and driver in {"asyncpg", "psycopg2"}:
        return parsed.set(drivername=PG_DRIVER)
    raise DatabaseConfigError(
        f"DATABASE_URL={describe(parsed)} names an unsupported database; "
        "use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://..."
    )


def describe(url: URL) -> str:
    """The URL with its password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


#: The database's folder and files (with its -wal and -shm files) are the bot user's alone.
DIR_MODE, FILE_MODE = 0o700, 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _prepare_sqlite_dir(url: URL) -> None:
    """Create the folder 0700 and the database file 0600 before SQLite opens it.

    SQLite creates the -wal and -shm files with the permissions of the database file, so they
    are 0600 too; files left by an older version are narrowed here.
    """
    path = sqlite_file(url)
    if path is None:
        return
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=DIR_MODE, parents=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        for file in (path, *(path.with_name(path.name + s) for s in SQLITE_SIDE_FILES)):
            if file.exists() and file.stat().st_mode & 0o077:
                file.chmod(FILE_MODE)
    except OSError as exc:
        raise DatabaseUnavailableError(
            f"Cannot create the database file for DATABASE_URL={describe(url)}: {exc.strerror}"
        ) from None


def _install_sqlite_events(engine: Engine, busy_timeout: float, *, always_immediate: bool) -> None:
    busy_ms = max(0, int(busy_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = FAST")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front, so a writer never fails half-way
        # with "database is locked" when another connection wrote in between. The store sets
        # conn.info["sqlite_immediate"] for its write transactions.
        immediate = always_immediate or conn.info.get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_async(url: URL, *, busy_timeout: float = 5.0) -> AsyncEngine:
    """The asynchronous engine: migrations on both databases, all PostgreSQL work."""
    if is_sqlite(url):
        _prepare_sqlite_dir(url)
        engine = create_async_engine(url, hide_parameters=True)
        _install_sqlite_events(engine.sync_engine, busy_timeout, always_immediate=True)
        return engine
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        pool_pre_ping=False,
        connect_args={"timeout": 10, "command_timeout": 60},
    )


def create_sqlite_sync(url: URL, *, busy_timeout: float = 5.0) -> Engine:
    """A plain sqlite3 engine for the store's one connection (``backends/sqlite.py``)."""
    _prepare_sqlite_dir(url)
    engine = create_engine(
        url.set(drivername=SQLITE_SYNC_DRIVER),
        hide_parameters=True,
        connect_args={"check_same_thread": False},
    )
    _install_sqlite_events(engine, busy_timeout, always_immediate=False)
    return engine


def unavailable(url: URL, exc: BaseException) -> StorageError:
    """Turn a low-level failure to reach or open the database into a clear error."""
    if isinstance(exc, StorageError):
        return exc
    orig: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    text = str(orig).strip() or type(orig).__name__
    if isinstance(orig, sqlite3.OperationalError) and "locked" in text:
        reason = "the database is locked by another process (is another bot or command running?)"
    elif isinstance(orig, sqlite3.OperationalError) and ("full" in text or "disk I/O" in text):
        reason = f"{text} (is the disk full, or the folder read-only?)"
    elif isinstance(orig, sqlite3.OperationalError) and "readonly" in text.replace("-", ""):
        reason = f"{text} (the database file or its folder is read-only)"
    elif isinstance(orig, OSError | TimeoutError):
        reason = f"cannot connect ({type(orig).__name__}: {text})"
    elif isinstance(exc, SQLAlchemyError | sqlite3.Error):
        reason = text.splitlines()[0]
    else:
        reason = f"{type(orig).__name__}: {text.splitlines()[0]}"
    return DatabaseUnavailableError(
        f"Cannot use the database at DATABASE_URL={describe(url)}: {reason}"
    )
