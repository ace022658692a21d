"""PostgreSQL: any number of bot processes on one database, through asyncpg.

A turn holds one transaction from its beginning to its end, on one pooled connection: it
begins, takes a transaction-scoped advisory lock on the conversation and marks the update
processed (one round trip), then reads the row ``FOR UPDATE`` (a second); when it ends it
saves the conversation and adds its answers in one statement (``statements.py``), writes any
other rows (one round trip per kind, rare: the end of a screening) and commits. A usual update
takes four round trips. A second process with an update for the
same person waits for the first to commit, so order holds across processes, and a re-delivered
update waits and is then seen as a duplicate. At most ``db.PG_MAX_CONNECTIONS`` turns and
queries of one process hold connections at once; the rest queue first come, first served, in
front of the pool (which is not fair itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage import db
from bot.storage.erasure import erase_conversation
from bot.storage.hotpath import flush, load
from bot.storage.statements import Sql
from bot.storage.turns import Loaded, Turn

if TYPE_CHECKING:
    from bot.storage.database import Database

log = logging.getLogger("bot.storage")

T = TypeVar("T")


class PgDriver:
    """asyncpg; one round trip per call (``many`` sends its rows in one pipeline)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def time(self, value: datetime) -> Any:
        return value

    async def row(self, q: Sql, params: Mapping[str, Any]) -> Any:
        return await self.conn.fetchrow(q.sql, *q.args(params))

    async def count(self, q: Sql, params: Mapping[str, Any]) -> int:
        status: str = await self.conn.execute(q.sql, *q.args(params))
        return int(status.rsplit(" ", 1)[-1])

    async def many(self, q: Sql, params: Sequence[Mapping[str, Any]]) -> None:
        await self.conn.executemany(q.sql, [q.args(p) for p in params])


def lock_key(user_hash: str) -> int:
    """A signed 64-bit advisory lock key from a keyed hash."""
    return int.from_bytes(bytes.fromhex(user_hash[:16]), "big", signed=True)


def pg_begin(user_hash: str, update_id: int | None, at: datetime) -> str:
    """A turn's first round trip, as one simple-protocol batch: begin, take the conversation's
    advisory lock, mark the update processed. The status of the last statement ("INSERT 0 1"
    / "INSERT 0 0") says whether the update is new. Only integers and a time made here are
    written into the text.

    The lock is taken before the insert, so a re-delivered update waits for the first
    delivery to commit and is then a duplicate; turns of one person are serialised across
    processes.
    """
    sql = f"BEGIN; SELECT pg_advisory_xact_lock({lock_key(user_hash):d})"
    if update_id is None:
        return sql
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    return (
        f"{sql}; INSERT INTO processed_updates (update_id, at) "
        f"VALUES ({int(update_id):d}, '{stamp}') ON CONFLICT DO NOTHING"
    )


class PostgresBackend:
    """The async engine, and a first-come-first-served queue in front of its pool."""

    def __init__(self, engine: AsyncEngine, slots: int = db.PG_MAX_CONNECTIONS) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        # asyncio.Semaphore is FIFO (a newcomer queues behind waiters); SQLAlchemy's pool is
        # not, so nobody is let through to the pool unless a connection is there for them.
        self.slots = asyncio.Semaphore(slots)

    @staticmethod
    def _in_tx(conn: Connection, fn: Callable[[Connection], T]) -> T:
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn`` in one transaction on a pooled connection."""
        async with self.slots, self.engine.connect() as aconn:
            return await aconn.run_sync(self._in_tx, fn)

    async def begin_turn(self, database: Database, user_hash: str, update_id: int | None) -> PgTurn:
        """Begin the transaction, lock the person, mark the update, read the row."""
        await self.slots.acquire()  # released by PgTurn.release, whatever happens
        try:
            aconn = await self.engine.connect()
        except BaseException:
            self.slots.release()
            raise
        turn = PgTurn(self, database, aconn, update_id)
        try:
            raw: Any = (await aconn.get_raw_connection()).driver_connection
            turn.raw = raw
            status = await raw.execute(pg_begin(user_hash, update_id, database.now()))
            if update_id is not None and status.endswith(" 0"):
                await raw.execute("ROLLBACK")
                turn.loaded = Loaded(duplicate=True)
            else:
                turn.loaded = await load(PgDriver(raw), database.sql, database.crypto, user_hash)
        except BaseException:
            await turn.abandon()
            raise
        return turn

    async def close(self) -> None:
        """Close the pool."""
        await self.engine.dispose()


class PgTurn:
    """A turn on PostgreSQL: one transaction holding the person's lock, on one connection."""

    __slots__ = ("aconn", "backend", "database", "loaded", "raw", "update_id")

    def __init__(
        self,
        backend: PostgresBackend,
        database: Database,
        aconn: AsyncConnection,
        update_id: int | None,
    ) -> None:
        self.backend = backend
        self.database = database
        self.aconn: AsyncConnection | None = aconn
        self.update_id = update_id
        self.raw: Any = None
        self.loaded = Loaded(duplicate=False)

    async def commit(self, turn: Turn) -> None:
        """Write what the turn buffered and commit; give the connection back."""
        if turn.duplicate:
            await self.release()
            return
        database = self.database
        try:
            if turn.writes.erase:
                turn.erasure = await self._erase(turn)
            else:
                drv = PgDriver(self.raw)
                await flush(drv, database.sql, database.crypto, turn, database.now(), mark=False)
            await self.raw.execute("COMMIT")
        except BaseException:
            await self.abandon()
            raise
        await self.release()

    async def _erase(self, turn: Turn) -> Any:
        """Erase through SQLAlchemy inside this turn's own transaction (begun on the driver,
        so SQLAlchemy is told not to begin one)."""
        aconn, database = self.aconn, self.database
        assert aconn is not None
        adapted: Any = (await aconn.get_raw_connection()).dbapi_connection
        cid, actor = self.loaded.conversation_id, turn.writes.erase_actor
        adapted.autocommit = True
        try:
            return await aconn.run_sync(
                lambda conn: erase_conversation(conn, database.crypto, cid, database.now(), actor)
            )
        finally:
            adapted.autocommit = False

    async def abandon(self) -> None:
        """Roll back (or drop a broken connection) and give the connection back."""
        raw, aconn = self.raw, self.aconn
        try:
            if raw is not None and not raw.is_closed() and raw.is_in_transaction():
                await raw.execute("ROLLBACK")
        except Exception:
            log.warning("rollback failed; dropping the connection", exc_info=True)
        try:
            if (
                aconn is not None
                and raw is not None
                and (raw.is_closed() or raw.is_in_transaction())
            ):
                await aconn.invalidate()
        finally:
            await self.release()

    async def release(self) -> None:
        """Give the connection back to the pool, and the slot to the next in the queue."""
        aconn, self.aconn, self.raw = self.aconn, None, None
        try:
            if aconn is not None:
                await aconn.close()
        finally:
            self.backend.slots.release()
