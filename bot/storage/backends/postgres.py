"""PostgreSQL: any number of bot processes on one database, through asyncpg.

A turn holds the person's advisory lock (session-level) on one pooled connection from its
read to its write, and no transaction block while the engine runs. A usual update is two round
trips before its reply may be sent: one call takes the lock, checks the update was not processed
and reads the conversation (``trialbot_begin_turn``), and one statement saves the conversation,
marks the update and adds the answers, committing as it returns (``statements.py``). A third,
after the commit and while the replies go out, lets go of the lock and gives the connection back.
A turn with more to write (the end of a screening, an erasure) writes between ``BEGIN`` and
``COMMIT``. A second process with an update for the same person waits for the lock, so order
holds across processes, and a re-delivered update waits and is then seen as a duplicate.
At most ``db.PG_MAX_CONNECTIONS`` turns and
queries of one process hold connections at once; the rest queue first come, first served, in
front of the pool (which is not fair itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage import db
from bot.storage import models as m
from bot.storage.crypto import Crypto
from bot.storage.erasure import erase_conversation
from bot.storage.errors import ConcurrentTurnError
from bot.storage.hotpath import flush, in_one_statement, loaded
from bot.storage.statements import Sql
from bot.storage.turns import Loaded, Turn
from bot.storage.views import Erasure

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


#: A turn's first round trip: take the person's advisory lock (held by the session until the
#: turn ends), then see whether the update was processed and read the conversation. A
#: function, because each statement of a volatile PL/pgSQL function reads with a snapshot of
#: its own, taken when the statement starts: the reads come after the lock is granted, so they
#: see whatever the previous holder committed (one plain statement would read with the snapshot
#: taken before it waited for the lock). Made in ``pg_temp`` when a connection opens: it lives
#: and dies with the session, and needs no migration. No row: a new conversation.
TURN_FUNCTION = """CREATE FUNCTION pg_temp.trialbot_begin_turn(k bigint, h text, u bigint)
RETURNS TABLE (duplicate boolean, id bigint, version bigint, status text, record_enc text,
    has_chat boolean)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM pg_advisory_lock(k);
    IF u IS NOT NULL AND EXISTS (SELECT 1 FROM processed_updates p WHERE p.update_id = u) THEN
        RETURN QUERY SELECT true, NULL::bigint, NULL::bigint, NULL::text, NULL::text, false;
        RETURN;
    END IF;
    RETURN QUERY SELECT false, c.id::bigint, c.version::bigint, c.status::text,
        c.record_enc::text, c.chat_enc IS NOT NULL
        FROM conversations c WHERE c.user_hash = h;
END
$fn$"""
BEGIN_TURN = "SELECT * FROM pg_temp.trialbot_begin_turn($1, $2, $3)"
UNIQUE_VIOLATION = "23505"
#: Let go of the person's lock (the session holds no other advisory lock).
UNLOCK = "SELECT pg_advisory_unlock_all()"


def create_turn_function(dbapi_connection: Any, _record: Any) -> None:
    """SQLAlchemy's ``connect`` event: give the new session ``trialbot_begin_turn``."""
    dbapi_connection.run_async(lambda conn: conn.execute(TURN_FUNCTION))


def loaded_row(row: Any, crypto: Crypto) -> Loaded:
    """What ``trialbot_begin_turn`` returned, as loaded."""
    if row is not None and row[0]:
        return Loaded(duplicate=True)
    return loaded(None if row is None else row[1:], crypto)


class PostgresBackend:
    """The async engine, and a first-come-first-served queue in front of its pool."""

    def __init__(self, engine: AsyncEngine, slots: int = db.PG_MAX_CONNECTIONS) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        event.listen(engine.sync_engine, "connect", create_turn_function)
        # asyncio.Semaphore is FIFO (a newcomer queues behind waiters); SQLAlchemy's pool is
        # not, so nobody is let through to the pool unless a connection is there for them.
        self.slots = asyncio.Semaphore(slots)
        #: Connections kept checked out between uses (with their asyncpg connection), at most
        #: one per slot: taking one costs nothing, where SQLAlchemy's check-out and check-in
        #: cost about as much as a round trip.
        self.idle: list[tuple[AsyncConnection, Any]] = []
        #: Turns letting go of their lock and connection after their commit.
        self.ending: set[asyncio.Task[None]] = set()

    async def take(self) -> tuple[AsyncConnection, Any]:
        """A slot and a connection (an idle one, else one from the pool)."""
        await self.slots.acquire()
        try:
            if self.idle:
                return self.idle.pop()
            aconn = await self.engine.connect()
        except BaseException:
            self.slots.release()
            raise
        try:
            return aconn, (await aconn.get_raw_connection()).driver_connection
        except BaseException:
            await self.give_back(aconn, None)
            raise

    async def give_back(self, aconn: AsyncConnection, raw: Any) -> None:
        """Keep a connection for the next use when it is sound and outside any transaction;
        else end it. The slot goes to the next in the queue."""
        try:
            if raw is not None and not aconn.invalidated and not raw.is_closed():
                if not raw.is_in_transaction() and not aconn.in_transaction():
                    self.idle.append((aconn, raw))
                    return
                await aconn.invalidate()
            await aconn.close()
        finally:
            self.slots.release()

    @staticmethod
    def _in_tx(conn: Connection, fn: Callable[[Connection], T]) -> T:
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn`` in one transaction on a connection of its own."""
        aconn, raw = await self.take()
        try:
            return await aconn.run_sync(self._in_tx, fn)
        finally:
            await self.give_back(aconn, raw)

    async def begin_turn(self, database: Database, user_hash: str, update_id: int | None) -> PgTurn:
        """Lock the person, see whether the update is a duplicate, read the row: one call."""
        aconn, raw = await self.take()  # given back by PgTurn.release, whatever happens
        turn = PgTurn(self, database, aconn, update_id)
        turn.raw = raw
        try:
            row = await raw.fetchrow(BEGIN_TURN, lock_key(user_hash), user_hash, update_id)
            turn.loaded = loaded_row(row, database.crypto)
        except BaseException:
            await turn.drop()  # the lock may or may not be held: end the session
            raise
        return turn

    def settle(self, turn: PgTurn) -> None:
        """Let go of a committed turn's lock and connection while its replies go out."""
        task = asyncio.get_running_loop().create_task(turn.release(unlock=True))
        self.ending.add(task)
        task.add_done_callback(self.ending.discard)

    async def settled(self) -> None:
        """Wait until every committed turn has let go of its lock and connection."""
        while self.ending:
            await asyncio.gather(*self.ending, return_exceptions=True)

    async def close(self) -> None:
        """Close every connection."""
        await self.settled()
        idle, self.idle = self.idle, []
        for aconn, _raw in idle:
            await aconn.close()
        await self.engine.dispose()


class PgTurn:
    """A turn on PostgreSQL: the person's lock on one connection, from the read to the write.

    The usual turn writes in one statement outside a transaction block, which commits when it
    returns; other turns write between ``BEGIN`` and ``COMMIT``."""

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
        """Write what the turn buffered, committed before this returns; then let go."""
        try:
            if turn.duplicate:
                pass
            elif turn.writes.erase:
                turn.erasure = await self._erase(turn)
            elif in_one_statement(turn):
                await self._write(turn)
            else:
                await self.raw.execute("BEGIN")
                await self._write(turn)
                await self.raw.execute("COMMIT")
        except BaseException:
            await self.abandon()
            raise
        self.backend.settle(self)

    async def _write(self, turn: Turn) -> None:
        database = self.database
        try:
            await flush(
                PgDriver(self.raw), database.sql, database.crypto, turn, database.now(), mark=True
            )
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            # The update was marked, or the conversation created, by another turn meanwhile
            # (never while the lock is held; kept as a guard): nothing was written.
            raise ConcurrentTurnError("the conversation was changed by another process") from None

    async def _erase(self, turn: Turn) -> Erasure:
        """Mark the update and erase, through SQLAlchemy, in one transaction."""
        aconn, database = self.aconn, self.database
        assert aconn is not None
        cid, actor, update_id = self.loaded.conversation_id, turn.writes.erase_actor, self.update_id

        def erase(conn: Connection) -> Erasure:
            with conn.begin():
                now = database.now()
                if update_id is not None:
                    mark = database.insert(m.processed_updates).on_conflict_do_nothing()
                    if conn.execute(mark, {"update_id": update_id, "at": now}).rowcount != 1:
                        raise ConcurrentTurnError("the update was processed meanwhile")
                return erase_conversation(conn, database.crypto, cid, now, actor)

        return await aconn.run_sync(erase)

    async def abandon(self) -> None:
        """Roll back what was begun, let go of the lock and give the connection back (or end
        the session when the connection is in doubt: that lets go of the lock too)."""
        raw = self.raw
        try:
            if raw is not None and not raw.is_closed() and raw.is_in_transaction():
                await raw.execute("ROLLBACK")
        except Exception:
            log.warning("rollback failed; dropping the connection", exc_info=True)
            await self.drop()
            return
        await self.release(unlock=True)

    async def drop(self) -> None:
        """End the session (its lock goes with it) and give the slot back."""
        aconn, self.aconn, self.raw = self.aconn, None, None
        if aconn is not None:
            await aconn.invalidate()
            await self.backend.give_back(aconn, None)

    async def release(self, *, unlock: bool) -> None:
        """Let go of the person's lock and give the connection back for the next use."""
        raw = self.raw
        if unlock and raw is not None:
            try:
                await raw.execute(UNLOCK)
            except Exception:
                log.warning("unlock failed; dropping the connection", exc_info=True)
                await self.drop()
                return
            except BaseException:
                await self.drop()
                raise
        aconn, self.aconn, self.raw = self.aconn, None, None
        if aconn is not None:
            await self.backend.give_back(aconn, raw)
