"""The two databases behind the store, each one class: ``SqliteBackend`` (one bot process)
and ``PostgresBackend`` (any number of processes).

A backend runs a function in one transaction (``run``, SQLAlchemy on a worker thread or in the
async engine's greenlet) and carries each update's turn (``begin_turn``): it reads the
conversation when the turn begins and writes what the turn buffered when it ends, on the driver
connection itself (``hotpath.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import URL, Dialect

from bot.storage import db

if TYPE_CHECKING:
    from bot.storage.database import Database
    from bot.storage.turns import Loaded, Turn

T = TypeVar("T")


class TurnSession(Protocol):
    """One turn's hold on the database, from reading the conversation to the commit."""

    loaded: Loaded

    async def commit(self, turn: Turn) -> None:
        """Write what ``turn`` buffered and commit (nothing for a duplicate)."""

    async def abandon(self) -> None:
        """Write nothing and let go (the block raised)."""


class Backend(Protocol):
    """A database the store can use."""

    dialect: Dialect

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn(connection)`` in one transaction and return its result."""

    async def begin_turn(
        self, database: Database, user_hash: str, update_id: int | None
    ) -> TurnSession:
        """Begin one update's turn for the person ``user_hash``: mark ``update_id`` (unless
        it is a duplicate) and read the conversation."""

    async def close(self) -> None:
        """Close every connection."""


def open_backend(url: URL, busy_timeout: float) -> Backend:
    """The backend for a parsed DATABASE_URL."""
    if db.is_sqlite(url):
        from bot.storage.backends.sqlite import SqliteBackend

        engine = db.create_sqlite_sync(url, busy_timeout=busy_timeout)
        return SqliteBackend(engine, db.sqlite_file(url), busy_timeout)
    from bot.storage.backends.postgres import PostgresBackend

    return PostgresBackend(db.create_async(url, busy_timeout=busy_timeout))
