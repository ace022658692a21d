"""The one database object the repositories share: a backend, the keys and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

from bot.storage.backends import Backend
from bot.storage.crypto import Crypto
from bot.storage.statements import Statements

T = TypeVar("T")


def utcnow() -> datetime:
    """The time now, timezone-aware UTC."""
    return datetime.now(UTC)


class Database:
    """What every repository works with: ``run`` a function in one transaction, the keys
    (``crypto``), the clock (``now``) and the hot path's compiled statements (``sql``)."""

    def __init__(
        self, url: URL, backend: Backend, crypto: Crypto, clock: Callable[[], datetime]
    ) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self.is_postgres = self.dialect == "postgresql"
        self.backend = backend
        self.crypto = crypto
        self.now = clock
        self.sql = Statements(backend.dialect)

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn(connection)`` in one transaction (``write=False``: it only reads)."""
        return await self.backend.run(fn, write=write)

    def insert(self, table: Table) -> Any:
        """An INSERT for this dialect, with ``on_conflict_do_nothing`` / ``_do_update``."""
        return (postgresql.insert if self.is_postgres else sqlite.insert)(table)
