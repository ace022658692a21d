"""The one database object the repositories share: a backend, the keys and the clock, and who
is told when outbox items are queued (``queued.py``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

from bot.storage import db, queued
from bot.storage.backends import Backend
from bot.storage.crypto import Crypto
from bot.storage.statements import Statements

T = TypeVar("T")

log = logging.getLogger("bot.storage")


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
        self.key = database_key(url)  # the same for every Store on this database
        self._notices: set[asyncio.Task[None]] = set()

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn(connection)`` in one transaction (``write=False``: it only reads)."""
        return await self.backend.run(fn, write=write)

    def insert(self, table: Table) -> Any:
        """An INSERT for this dialect, with ``on_conflict_do_nothing`` / ``_do_update``."""
        return (postgresql.insert if self.is_postgres else sqlite.insert)(table)

    def subscribe_queued(self, listener: Callable[[], None]) -> queued.Subscription:
        """Call ``listener`` whenever outbox items are queued: at once for this process's
        stores, and on PostgreSQL for other processes' too (``LISTEN outbox``)."""
        remote = None
        if self.is_postgres:
            from bot.storage.backends.listen import QueueListener

            remote = QueueListener(self.url, listener)
        return queued.Subscription(queued.subscribe(self.key, listener), remote)

    def notify_in(self, conn: Connection) -> None:
        """Inside a transaction that queues items: on PostgreSQL, NOTIFY at its commit."""
        if self.is_postgres:
            conn.execute(text(queued.NOTIFY_SQL))

    def queued(self, *, notify_others: bool = False) -> None:
        """Items were queued and committed: tell this process's listeners, and with
        ``notify_others`` on PostgreSQL also other processes (a NOTIFY of its own, sent in
        the background, for commits that could not carry one)."""
        queued.notify(self.key)
        if notify_others and self.is_postgres:
            task = asyncio.create_task(self._notify_others())
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)

    async def _notify_others(self) -> None:
        try:
            await self.run(self.notify_in)
        except Exception as exc:  # the poll finds the items anyway
            log.warning("outbox: NOTIFY failed (%s)", type(exc).__name__)

    async def settle(self) -> None:
        """Wait for the NOTIFYs still on their way (before closing)."""
        if self._notices:
            await asyncio.gather(*self._notices, return_exceptions=True)


def database_key(url: URL) -> str:
    """What identifies a database within one process: its URL without the password, with a
    SQLite file's absolute path."""
    path = db.sqlite_file(url) if db.is_sqlite(url) else None
    if path is not None:
        return f"sqlite:{path.resolve()}"
    return db.describe(url)
