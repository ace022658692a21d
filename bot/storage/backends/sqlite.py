"""SQLite: one ``sqlite3`` connection for one bot process.

Turns use the connection inline on the event loop: a turn begins by reading the conversation
(no lock is held while the engine runs) and ends by writing everything between
``BEGIN IMMEDIATE`` and ``COMMIT``. A whole turn costs less than one thread hop, so it is not
sent to a thread; with WAL and ``synchronous=NORMAL`` a commit does not wait for the disk. WAL
checkpoints, which do, run on their own thread and connection. Less frequent work (outbox,
referrals, statistics, purge, erasure) runs through SQLAlchemy on one worker thread, on the
same connection, one at a time (an ``asyncio.Lock``). If another process writes the same
conversation meanwhile, a version counter catches it (``ConcurrentTurnError``, nothing
written) instead of losing a write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine

from bot.storage import models as m
from bot.storage.erasure import erase_conversation
from bot.storage.errors import ConcurrentTurnError
from bot.storage.hotpath import flush, load
from bot.storage.statements import Sql
from bot.storage.turns import Loaded, Turn
from bot.storage.views import Erasure

if TYPE_CHECKING:
    from bot.storage.database import Database

log = logging.getLogger("bot.storage")

T = TypeVar("T")

#: Write transactions between two background WAL checkpoints.
CHECKPOINT_EVERY = 500


def sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite (naive UTC text, microseconds always shown)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class SqliteDriver:
    """sqlite3, run inline: these coroutines never suspend, so a transaction cannot be
    interleaved with another task's."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def time(self, value: datetime) -> Any:
        return sqlite_time(value)

    async def row(self, q: Sql, params: Mapping[str, Any]) -> Any:
        return self.conn.execute(q.sql, q.args(params)).fetchone()

    async def count(self, q: Sql, params: Mapping[str, Any]) -> int:
        return self.conn.execute(q.sql, q.args(params)).rowcount

    async def many(self, q: Sql, params: Sequence[Mapping[str, Any]]) -> None:
        self.conn.executemany(q.sql, [q.args(p) for p in params])


class SqliteBackend:
    """One sqlite3 connection: turns use it inline, other work on one worker thread."""

    def __init__(self, engine: Engine, path: Path | None, busy_timeout: float) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.path = path
        self.busy_ms = int(busy_timeout * 1000)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialbot-db")
        self.checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialbot-wal")
        self.lock = asyncio.Lock()
        self.conn: Connection | None = None
        self.raw: sqlite3.Connection | None = None
        self.driver: SqliteDriver | None = None
        self.writes = 0
        self.pending_checkpoint: Future[None] | None = None
        self.checkpoint_conn: sqlite3.Connection | None = None

    def _connect(self) -> None:
        self.conn = self.engine.connect()
        raw = self.conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        if self.path is not None:
            raw.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints run in the background
        self.raw = raw
        self.driver = SqliteDriver(raw)

    def _call(self, fn: Callable[[Connection], T], write: bool) -> T:
        if self.conn is None:
            self._connect()
        conn = self.conn
        assert conn is not None
        conn.info["sqlite_immediate"] = write
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn`` in one transaction on the worker thread (``BEGIN IMMEDIATE`` to write)."""
        loop = asyncio.get_running_loop()
        async with self.lock:
            result = await loop.run_in_executor(self.worker, self._call, fn, write)
        if write:
            self.wrote()
        return result

    async def begin_turn(
        self, database: Database, user_hash: str, update_id: int | None
    ) -> SqliteTurn:
        """Read the conversation now (no transaction is held while the engine runs)."""
        sql = database.sql
        async with self.lock:  # only waits while the worker thread has the connection
            if self.driver is None:
                await asyncio.get_running_loop().run_in_executor(self.worker, self._connect)
            drv = self.driver
            assert drv is not None
            if update_id is not None and await drv.row(sql.select_processed, {"u": update_id}):
                loaded = Loaded(duplicate=True)
            else:
                loaded = await load(drv, sql, database.crypto, user_hash)
        return SqliteTurn(self, database, update_id, loaded)

    def wrote(self) -> None:
        """Count a write transaction; every CHECKPOINT_EVERY, checkpoint in the background."""
        self.writes += 1
        idle = self.pending_checkpoint is None or self.pending_checkpoint.done()
        if self.writes >= CHECKPOINT_EVERY and self.path is not None and idle:
            self.writes = 0
            self.pending_checkpoint = self.checkpointer.submit(self._checkpoint, "PASSIVE")

    def _checkpoint(self, mode: str) -> None:
        try:
            if self.checkpoint_conn is None:
                self.checkpoint_conn = sqlite3.connect(
                    str(self.path), isolation_level=None, check_same_thread=False
                )
                self.checkpoint_conn.execute(f"PRAGMA busy_timeout = {self.busy_ms}")
            self.checkpoint_conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        except sqlite3.Error:
            log.warning("WAL checkpoint failed; it will be tried again", exc_info=True)

    def _close(self) -> None:
        if self.checkpoint_conn is not None:
            self.checkpoint_conn.close()
        if self.conn is not None:
            self.conn.close()  # the last connection to close checkpoints and removes the WAL
            self.conn = self.raw = self.driver = None
        self.engine.dispose()

    async def close(self) -> None:
        """Let a checkpoint finish, then close the connections."""
        loop = asyncio.get_running_loop()
        async with self.lock:
            await loop.run_in_executor(self.checkpointer, lambda: None)  # let it finish
            await loop.run_in_executor(self.worker, self._close)
        self.worker.shutdown(wait=True)
        self.checkpointer.shutdown(wait=True)


class SqliteTurn:
    """A turn on SQLite: read when it began; everything written when it ends."""

    __slots__ = ("backend", "database", "loaded", "update_id")

    def __init__(
        self, backend: SqliteBackend, database: Database, update_id: int | None, loaded: Loaded
    ) -> None:
        self.backend = backend
        self.database = database
        self.update_id = update_id
        self.loaded = loaded

    async def commit(self, turn: Turn) -> None:
        """Write in one ``BEGIN IMMEDIATE ... COMMIT``, marking the update processed."""
        if turn.duplicate or (self.update_id is None and not turn.has_writes()):
            return
        if turn.writes.erase:
            turn.erasure = await self.backend.run(lambda conn: self._erase(conn, turn))
            return
        b, database = self.backend, self.database
        async with b.lock:
            raw, drv = b.raw, b.driver
            assert raw is not None and drv is not None
            raw.execute("BEGIN IMMEDIATE")
            try:
                await flush(drv, database.sql, database.crypto, turn, database.now(), mark=True)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
        b.wrote()

    def _erase(self, conn: Connection, turn: Turn) -> Erasure:
        now = self.database.now()
        if self.update_id is not None:
            mark = self.database.insert(m.processed_updates).on_conflict_do_nothing()
            if conn.execute(mark, {"update_id": self.update_id, "at": now}).rowcount != 1:
                raise ConcurrentTurnError("the update was processed by another process meanwhile")
        cid, actor = self.loaded.conversation_id, turn.writes.erase_actor
        return erase_conversation(conn, self.database.crypto, cid, now, actor)

    async def abandon(self) -> None:
        """Nothing was written."""
