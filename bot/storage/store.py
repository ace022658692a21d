"""The repository API: everything the channels and the handoff keep, behind one ``Store``.

Start-up::

    await bot.storage.commands.upgrade(settings)     # migrations (idempotent)
    store = await Store.open(settings)               # checks schema and key; never migrates

Per update::

    async with store.turn("tg:12345", update.update_id) as turn:
        if turn.duplicate:
            return                          # already handled: nothing to do, nothing written
        record = turn.record                # dict from Conversation.to_json(), or None if new
        ...                                 # run the engine (pure, no I/O)
        turn.save(conversation.to_json(), chat_id=chat_id)
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
    # committed here: only now send the replies

How a turn reaches the database
-------------------------------
The database work of one update is one short transaction. ``Turn`` methods only buffer; the
statements (``turns.py``) are Core, compiled once, and run on the driver connection itself.

* **SQLite** (one bot process). One ``sqlite3`` connection, used inline on the event loop for
  turns: entering reads the record (no lock held while the engine runs); leaving writes
  everything between ``BEGIN IMMEDIATE`` and ``COMMIT``. A whole turn costs less than one
  thread hop, so it is not sent to a thread; with WAL and ``synchronous=NORMAL`` a commit does
  not wait for the disk. WAL checkpoints (which do) run on their own thread and connection.
  Less frequent work (outbox, referrals, statistics, purge) runs on a worker thread through
  SQLAlchemy, on the same connection, one at a time (an ``asyncio.Lock``). An ``asyncio.Lock``
  per conversation keeps one process's turns in order; if another process writes the same
  conversation meanwhile, a version counter catches it (``ConcurrentTurnError``, nothing
  written) instead of losing a write.
* **PostgreSQL** (any number of processes). Entering begins a transaction, takes a
  transaction-scoped advisory lock on the conversation and marks the update processed (one
  round trip), then reads the row ``FOR UPDATE`` (a second); leaving writes (one round trip per
  kind of row) and commits. A second process
  with an update for the same person waits for the first to commit, so order holds across
  processes, and a re-delivered update waits and is then seen as a duplicate. At most
  ``db.PG_MAX_CONNECTIONS`` turns and queries of one process hold connections at once; the
  rest queue first come, first served, in front of the pool (which is not fair itself).

The update id is marked processed in the same transaction as the answer: an update is either
fully applied and marked, or not at all (and is handled again when re-delivered).

Personal values are encrypted (``crypto.py``) and people are found by keyed hash; logs carry
only the first characters of that hash, and counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.storage import db, keys, retention, turns
from bot.storage import models as m
from bot.storage.crypto import Crypto
from bot.storage.errors import (
    ReferralNotFoundError,
    SchemaNotReadyError,
    StaleStatusError,
    StatusTransitionError,
    StorageError,
    WrongKeyError,
)
from bot.storage.migrations import current_revision, head_revision
from bot.storage.turns import Erasure, Turn

log = logging.getLogger("bot.storage")

T = TypeVar("T")

#: Write transactions between two background WAL checkpoints (SQLite).
CHECKPOINT_EVERY = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


def _short(user_hash: str) -> str:
    """What logs may show of a person: the first characters of their keyed hash."""
    return user_hash[:12]


# --------------------------------------------------------------------------- values returned


@dataclass(frozen=True, slots=True)
class AnswerView:
    fact: str
    value: str
    raw: str
    unit: str
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class ContactView:
    name: str | None
    phone: str | None
    email: str | None
    username: str | None
    best_time: str | None
    call_lang: str | None


@dataclass(frozen=True, slots=True)
class OutcomeView:
    outcome: str
    failed: list[str]
    unknown: list[str]
    flow_id: str
    protocol_version: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class ReferralDetails:
    """Everything a referral card or an export row needs, decrypted."""

    ref_code: str
    status: str
    outcome: str
    attempts: int
    created_at: datetime
    acknowledged_at: datetime | None
    reminded_at: datetime | None
    card_message_id: int | None
    user_hash: str
    chat_id: int | None
    lang: str
    source: str
    flow_id: str
    flow_version: str
    decision: OutcomeView | None  # the latest outcome of the conversation
    answers: dict[str, AnswerView]  # the latest answer to each fact
    contact: ContactView | None


@dataclass(frozen=True, slots=True)
class StatusChange:
    ref_code: str
    old: str
    new: str
    at: datetime
    first_acknowledgement: bool  # True when this change acknowledged the referral


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int  # including this one
    user_hash: str | None  # the person it concerns, if any
    chat_id: int | None  # their chat, for messages to them


@dataclass(frozen=True, slots=True)
class FunnelRow:
    """One conversation's progress, for ``/stats``."""

    lang: str
    source: str
    status: str
    consented: bool | None  # health_processing: None when never asked
    outcome: str | None
    referral_status: str | None


@dataclass(frozen=True, slots=True)
class AuditView:
    at: datetime
    actor_hash: str | None
    action: str
    subject: str | None
    detail: dict[str, Any]


# --------------------------------------------------------------------------- backends


class _Sqlite:
    """One sqlite3 connection: turns use it inline, other work on one worker thread."""

    def __init__(self, engine: Engine, path: Path | None, busy_timeout: float) -> None:
        self.engine = engine
        self.path = path
        self.busy_ms = int(busy_timeout * 1000)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialbot-db")
        self.checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialbot-wal")
        self.lock = asyncio.Lock()
        self.conn: Connection | None = None
        self.raw: sqlite3.Connection | None = None
        self.driver: turns.SqliteDriver | None = None
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
        self.driver = turns.SqliteDriver(raw)

    def _call(self, fn: Callable[[Connection], T], write: bool) -> T:
        if self.conn is None:
            self._connect()
        conn = self.conn
        assert conn is not None
        conn.info["sqlite_immediate"] = write
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        loop = asyncio.get_running_loop()
        async with self.lock:
            result = await loop.run_in_executor(self.worker, self._call, fn, write)
        if write:
            self.wrote()
        return result

    def wrote(self) -> None:
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
        loop = asyncio.get_running_loop()
        async with self.lock:
            await loop.run_in_executor(self.checkpointer, lambda: None)  # let it finish
            await loop.run_in_executor(self.worker, self._close)
        self.worker.shutdown(wait=True)
        self.checkpointer.shutdown(wait=True)


class _Postgres:
    """The async engine, and a first-come-first-served queue in front of its pool."""

    def __init__(self, engine: AsyncEngine, slots: int = db.PG_MAX_CONNECTIONS) -> None:
        self.engine = engine
        # asyncio.Semaphore is FIFO (a newcomer queues behind waiters); SQLAlchemy's pool is
        # not, so nobody is let through to the pool unless a connection is there for them.
        self.slots = asyncio.Semaphore(slots)

    @staticmethod
    def _in_tx(conn: Connection, fn: Callable[[Connection], T]) -> T:
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        async with self.slots, self.engine.connect() as aconn:
            return await aconn.run_sync(self._in_tx, fn)

    async def close(self) -> None:
        await self.engine.dispose()


# --------------------------------------------------------------------------- the store


_C = m.conversations
_O = m.outbox
_R = m.referrals


class Store:
    """The bot's durable state. Open once per process with ``await Store.open(settings)``."""

    def __init__(
        self,
        url: URL,
        crypto: Crypto,
        backend: _Sqlite | _Postgres,
        clock: Callable[[], datetime],
    ) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self._crypto = crypto
        self._backend = backend
        self._now = clock
        self._closed = False
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._upsert: Callable[[Any], Any] = (
            postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        )
        self._sql = turns.Statements(backend.engine.dialect)

    # ----------------------------------------------------------------- opening

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> Store:
        """Connect, check the schema is current and the key is the database's key.

        Does not migrate (call ``bot.storage.commands.upgrade`` first). Raises
        ``MissingKeyError`` / ``InvalidKeyError`` / ``WrongKeyError`` for key problems,
        ``DatabaseConfigError`` / ``DatabaseUnavailableError`` (naming DATABASE_URL) when the
        database cannot be used or is locked, and ``SchemaNotReadyError`` when it needs
        ``python -m bot db upgrade``.
        """
        crypto = Crypto(settings.encryption_keys())
        url = db.parse_url(settings.database_url)
        backend: _Sqlite | _Postgres
        if db.is_sqlite(url):
            engine = db.create_sqlite_sync(url, busy_timeout=busy_timeout)
            backend = _Sqlite(engine, db.sqlite_file(url), busy_timeout)
        else:
            backend = _Postgres(db.create_async(url, busy_timeout=busy_timeout))
        store = cls(url, crypto, backend, clock)
        try:
            await backend.run(store._check_database, write=True)
        except StorageError:
            await backend.close()
            raise
        except Exception as exc:
            await backend.close()
            raise db.unavailable(url, exc) from None
        log.info("storage opened (%s)", store.dialect)
        return store

    def _check_database(self, conn: Connection) -> None:
        revision = current_revision(conn)
        if revision != head_revision():
            raise SchemaNotReadyError(
                f"The database at DATABASE_URL={db.describe(self.url)} is at schema revision "
                f"{revision or 'none'}, and this version of the bot needs {head_revision()}. "
                "Run `python -m bot db upgrade`."
            )
        secret = keys.database_lookup_secret(conn, self._crypto, self._now())
        if secret is None:
            raise WrongKeyError(
                "DATA_ENCRYPTION_KEYS holds none of the keys this database was used with, so "
                "its personal data cannot be read. Nothing was changed. Put the original key "
                f"back in DATA_ENCRYPTION_KEYS (database: DATABASE_URL={db.describe(self.url)})."
            )
        self._crypto.use_lookup_secret(secret)

    async def close(self) -> None:
        """Close the database connections (a second call does nothing)."""
        if not self._closed:
            self._closed = True
            await self._backend.close()

    def user_hash(self, user_key: str) -> str:
        """The keyed hash stored for a channel user id such as ``"tg:12345"``."""
        return self._crypto.lookup(user_key)

    # ----------------------------------------------------------------- the hot path

    def turn(self, user_key: str, update_id: int | None = None) -> _TurnScope:
        """One update's transaction for the person ``user_key`` (see the module docstring):
        ``async with store.turn(user_key, update_id) as turn: ...``.

        ``Turn.duplicate`` is True when ``update_id`` was already processed (then nothing may
        be written). Leaving the block normally commits; an exception writes nothing. Send the
        replies after the block, never inside it.

        Inside the block use only the ``Turn``: on PostgreSQL it holds a pooled connection and
        the person's lock, so another ``Store`` call there would need a second connection, and
        ``erase_person`` for the same person would wait for this very turn (use
        ``Turn.erase()``). ``update_id=None`` makes a turn that is not de-duplicated (for
        work that is not a channel update).
        """
        return _TurnScope(self, self._crypto.lookup(user_key), update_id)

    # ----------------------------------------------------------------- the rest runs here

    async def _run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        return await self._backend.run(fn, write=write)

    async def execute(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn`` in one transaction: for modules with tables of their own (``bot.web``)."""
        return await self._backend.run(fn, write=write)

    # ----------------------------------------------------------------- small look-ups

    async def find_chat(self, user_key: str) -> int | None:
        """The chat to write to for this person, or None."""
        user_hash = self._crypto.lookup(user_key)
        stmt = select(_C.c.chat_enc).where(_C.c.user_hash == user_hash)
        token = await self._run(lambda c: c.execute(stmt).scalar_one_or_none(), write=False)
        return None if token is None else int(self._crypto.decrypt(token))

    async def answer_history(self, user_key: str) -> list[AnswerView]:
        """Every answer this person gave, oldest first (changed answers included)."""
        user_hash = self._crypto.lookup(user_key)
        a = m.answers
        stmt = (
            select(a.c.fact, a.c.value_enc, a.c.raw_enc, a.c.unit, a.c.answered_at)
            .join(_C, _C.c.id == a.c.conversation_id)
            .where(_C.c.user_hash == user_hash)
            .order_by(a.c.id)
        )
        rows = await self._run(lambda c: c.execute(stmt).all(), write=False)
        return [self._answer_view(r) for r in rows]

    def _answer_view(self, row: Any) -> AnswerView:
        fact, value_enc, raw_enc, unit, at = row
        dec = self._crypto.decrypt
        return AnswerView(fact, dec(value_enc), self._crypto.decrypt_opt(raw_enc) or "", unit, at)

    # ----------------------------------------------------------------- outbox

    async def enqueue(
        self,
        kind: str,
        dedupe_key: str,
        payload: dict[str, Any],
        *,
        user_key: str | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Queue a message outside a turn (reminders, digests). False if the key was queued."""
        cid_query = None
        if user_key is not None:
            user_hash = self._crypto.lookup(user_key)
            cid_query = select(_C.c.id).where(_C.c.user_hash == user_hash).scalar_subquery()

        def run(conn: Connection) -> bool:
            now = self._now()
            values: dict[str, Any] = {
                "kind": kind,
                "dedupe_key": dedupe_key,
                "conversation_id": cid_query,
                "payload_enc": self._crypto.encrypt(turns.dumps(payload)),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": not_before or now,
                "created_at": now,
            }
            stmt = self._upsert(_O).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
            return bool(conn.execute(stmt).rowcount)

        return await self._run(run)

    async def claim_outbox(
        self,
        worker_id: str,
        limit: int,
        *,
        lease: timedelta = timedelta(minutes=5),
        kinds: Sequence[str] | None = None,
    ) -> list[OutboxItem]:
        """Claim up to ``limit`` due items for ``lease``; no other worker gets them meanwhile.

        PostgreSQL uses ``FOR UPDATE SKIP LOCKED``, so concurrent workers never wait for each
        other and never claim the same row. An item whose lease ran out (a crashed worker) is
        claimed again. ``attempts`` counts claims.
        """

        def run(conn: Connection) -> list[OutboxItem]:
            now = self._now()
            due = (
                select(_O.c.id)
                .where(
                    _O.c.status == "pending",
                    _O.c.next_attempt_at <= now,
                    or_(_O.c.claimed_until.is_(None), _O.c.claimed_until < now),
                )
                .order_by(_O.c.next_attempt_at, _O.c.id)
                .limit(limit)
            )
            if kinds:
                due = due.where(_O.c.kind.in_(kinds))
            stmt = update(_O).values(
                claimed_by=worker_id, claimed_until=now + lease, attempts=_O.c.attempts + 1
            )
            if self.dialect == "postgresql":
                picked = due.with_for_update(skip_locked=True).cte("picked")
                stmt = stmt.where(_O.c.id == picked.c.id)
            else:
                stmt = stmt.where(_O.c.id.in_(due.scalar_subquery()))
            rows = conn.execute(
                stmt.returning(
                    _O.c.id,
                    _O.c.kind,
                    _O.c.dedupe_key,
                    _O.c.payload_enc,
                    _O.c.attempts,
                    _O.c.conversation_id,
                )
            ).all()
            people: dict[int, tuple[str, int | None]] = {}
            cids = {r.conversation_id for r in rows if r.conversation_id is not None}
            if cids:
                found = select(_C.c.id, _C.c.user_hash, _C.c.chat_enc).where(_C.c.id.in_(cids))
                for cid, user_hash, chat_enc in conn.execute(found):
                    chat = None if chat_enc is None else int(self._crypto.decrypt(chat_enc))
                    people[cid] = (user_hash, chat)
            return [
                OutboxItem(
                    id=r.id,
                    kind=r.kind,
                    dedupe_key=r.dedupe_key,
                    payload=json.loads(self._crypto.decrypt(r.payload_enc)),
                    attempts=r.attempts,
                    user_hash=people.get(r.conversation_id, (None, None))[0],
                    chat_id=people.get(r.conversation_id, (None, None))[1],
                )
                for r in sorted(rows, key=lambda r: r.id)
            ]

        items = await self._run(run)
        if items:
            log.debug("outbox: %s claimed %d", worker_id, len(items))
        return items

    async def mark_sent(self, item_id: int, worker_id: str) -> bool:
        """The item was delivered; its payload is dropped. False if the claim was lost."""
        stmt = (
            update(_O)
            .where(_O.c.id == item_id, _O.c.claimed_by == worker_id, _O.c.status == "pending")
            .values(
                status="sent",
                sent_at=bindparam("now"),
                payload_enc=None,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return await self._run(lambda c: c.execute(stmt, {"now": self._now()}).rowcount == 1)

    async def mark_failed(
        self,
        item_id: int,
        worker_id: str,
        retry_at: datetime,
        *,
        error: str = "",
        give_up: bool = False,
    ) -> bool:
        """Delivery failed: try again from ``retry_at`` (or never, with ``give_up``).
        ``error`` is kept for the operator and must not contain personal data."""
        stmt = (
            update(_O)
            .where(_O.c.id == item_id, _O.c.claimed_by == worker_id, _O.c.status == "pending")
            .values(
                status="failed" if give_up else "pending",
                next_attempt_at=retry_at,
                claimed_by=None,
                claimed_until=None,
                last_error=error[:500] or None,
            )
        )
        return await self._run(lambda c: c.execute(stmt).rowcount == 1)

    async def outbox_counts(self) -> dict[str, int]:
        """Number of outbox items per status."""
        stmt = select(_O.c.status, func.count()).group_by(_O.c.status)
        rows = await self._run(lambda c: c.execute(stmt).all(), write=False)
        return {r[0]: int(r[1]) for r in rows}

    # ----------------------------------------------------------------- referrals

    def _referral_query(self) -> Select[Any]:
        return select(
            _R.c.id,
            _R.c.ref_code,
            _R.c.status,
            _R.c.outcome,
            _R.c.attempts,
            _R.c.created_at,
            _R.c.acknowledged_at,
            _R.c.reminded_at,
            _R.c.card_message_id,
            _R.c.conversation_id,
            _C.c.user_hash,
            _C.c.chat_enc,
            _C.c.lang,
            _C.c.source,
            _C.c.flow_id,
            _C.c.flow_version,
        ).join(_C, _C.c.id == _R.c.conversation_id)

    def _details(self, conn: Connection, rows: Sequence[Any]) -> list[ReferralDetails]:
        if not rows:
            return []
        cids = list({r.conversation_id for r in rows})
        a, o, k = m.answers, m.outcomes, m.contacts
        answers: dict[int, dict[str, AnswerView]] = {}
        for ar in conn.execute(
            select(
                a.c.conversation_id, a.c.fact, a.c.value_enc, a.c.raw_enc, a.c.unit, a.c.answered_at
            )
            .where(a.c.conversation_id.in_(cids))
            .order_by(a.c.id)
        ):
            answers.setdefault(ar[0], {})[ar[1]] = self._answer_view(ar[1:])
        decisions: dict[int, OutcomeView] = {}
        for orow in conn.execute(
            select(
                o.c.conversation_id,
                o.c.outcome,
                o.c.failed,
                o.c.unknown,
                o.c.flow_id,
                o.c.protocol_version,
                o.c.decided_at,
            )
            .where(o.c.conversation_id.in_(cids))
            .order_by(o.c.id)
        ):
            decisions[orow[0]] = OutcomeView(
                orow[1], list(orow[2]), list(orow[3]), orow[4], orow[5], orow[6]
            )
        contacts: dict[int, ContactView] = {}
        dec = self._crypto.decrypt_opt
        for kr in conn.execute(
            select(
                k.c.conversation_id,
                k.c.name_enc,
                k.c.phone_enc,
                k.c.email_enc,
                k.c.username_enc,
                k.c.best_time_enc,
                k.c.call_lang,
            ).where(k.c.conversation_id.in_(cids))
        ):
            contacts[kr[0]] = ContactView(
                dec(kr[1]), dec(kr[2]), dec(kr[3]), dec(kr[4]), dec(kr[5]), kr[6]
            )
        return [
            ReferralDetails(
                ref_code=r.ref_code,
                status=r.status,
                outcome=r.outcome,
                attempts=r.attempts,
                created_at=r.created_at,
                acknowledged_at=r.acknowledged_at,
                reminded_at=r.reminded_at,
                card_message_id=r.card_message_id,
                user_hash=r.user_hash,
                chat_id=None if r.chat_enc is None else int(self._crypto.decrypt(r.chat_enc)),
                lang=r.lang,
                source=r.source,
                flow_id=r.flow_id,
                flow_version=r.flow_version,
                decision=decisions.get(r.conversation_id),
                answers=answers.get(r.conversation_id, {}),
                contact=contacts.get(r.conversation_id),
            )
            for r in rows
        ]

    async def referral(self, ref_code: str) -> ReferralDetails | None:
        stmt = self._referral_query().where(_R.c.ref_code == ref_code)

        def run(conn: Connection) -> ReferralDetails | None:
            found = self._details(conn, conn.execute(stmt).all())
            return found[0] if found else None

        return await self._run(run, write=False)

    async def referrals(self, statuses: Iterable[str] | None = None) -> list[ReferralDetails]:
        """Referrals oldest first; all of them (``/export``) or those in ``statuses``
        (``/referrals``: ``models.OPEN_REFERRAL_STATUSES``)."""
        stmt = self._referral_query().order_by(_R.c.id)
        if statuses is not None:
            stmt = stmt.where(_R.c.status.in_(list(statuses)))
        return await self._run(lambda c: self._details(c, c.execute(stmt).all()), write=False)

    async def set_referral_status(
        self,
        ref_code: str,
        new_status: str,
        actor_key: str,
        *,
        expected: str | None = None,
    ) -> StatusChange:
        """Move a referral to ``new_status``, with history and an audit line.

        ``expected``: the status the coordinator saw; if it changed meanwhile (two people
        pressing buttons) ``StaleStatusError`` is raised and nothing changes; a status the
        workflow (``models.next_statuses``) does not allow after the current one raises
        ``StatusTransitionError`` (a ``StaleStatusError``). Leaving ``new``
        acknowledges the referral (``first_acknowledgement``: tell the patient).
        """
        if new_status not in m.REFERRAL_STATUSES:
            raise ValueError(f"unknown referral status {new_status!r}")
        actor = self._crypto.lookup(actor_key)

        def run(conn: Connection) -> StatusChange:
            now = self._now()
            stmt = select(_R.c.id, _R.c.status, _R.c.acknowledged_at, _R.c.attempts).where(
                _R.c.ref_code == ref_code
            )
            if self.dialect == "postgresql":
                stmt = stmt.with_for_update()
            row = conn.execute(stmt).first()
            if row is None:
                raise ReferralNotFoundError(f"no referral {ref_code}")
            if expected is not None and row.status != expected:
                raise StaleStatusError(f"referral {ref_code} is now {row.status}")
            first_ack = row.acknowledged_at is None and new_status != "new"
            if row.status == new_status:
                return StatusChange(ref_code, row.status, new_status, now, False)
            if new_status not in m.next_statuses(row.status, row.attempts):
                raise StatusTransitionError(
                    f"referral {ref_code} cannot go from {row.status} to {new_status}"
                )
            values: dict[str, Any] = {"status": new_status, "updated_at": now}
            if first_ack:
                values["acknowledged_at"] = now
            conn.execute(update(_R).where(_R.c.id == row.id).values(**values))
            conn.execute(
                insert(m.referral_history),
                {
                    "referral_id": row.id,
                    "from_status": row.status,
                    "to_status": new_status,
                    "actor_hash": actor,
                    "at": now,
                },
            )
            self._audit(
                conn,
                now,
                actor,
                "referral_status",
                ref_code,
                {"from": row.status, "to": new_status},
            )
            return StatusChange(ref_code, row.status, new_status, now, first_ack)

        return await self._run(run)

    async def acknowledge(self, ref_code: str, actor_key: str) -> bool:
        """Mark a referral acknowledged without changing its status. True the first time."""
        actor = self._crypto.lookup(actor_key)

        def run(conn: Connection) -> bool:
            now = self._now()
            done = conn.execute(
                update(_R)
                .where(_R.c.ref_code == ref_code, _R.c.acknowledged_at.is_(None))
                .values(acknowledged_at=now, updated_at=now)
            ).rowcount
            if done:
                self._audit(conn, now, actor, "referral_acknowledged", ref_code, {})
            return bool(done)

        return await self._run(run)

    async def record_contact_attempt(self, ref_code: str, actor_key: str) -> int:
        """Count one attempt to reach the patient; returns the number of attempts so far."""
        actor = self._crypto.lookup(actor_key)

        def run(conn: Connection) -> int:
            now = self._now()
            attempts = conn.execute(
                update(_R)
                .where(_R.c.ref_code == ref_code)
                .values(attempts=_R.c.attempts + 1, updated_at=now)
                .returning(_R.c.attempts)
            ).scalar_one_or_none()
            if attempts is None:
                raise ReferralNotFoundError(f"no referral {ref_code}")
            self._audit(conn, now, actor, "contact_attempt", ref_code, {"attempts": attempts})
            return int(attempts)

        return await self._run(run)

    async def set_card_message(self, ref_code: str, message_id: int) -> bool:
        """Remember the team-chat message that shows this referral's card; False when the
        referral no longer exists (erased meanwhile: the card must be redacted)."""
        stmt = update(_R).where(_R.c.ref_code == ref_code).values(card_message_id=message_id)
        return bool(await self._run(lambda c: c.execute(stmt).rowcount))

    async def referrals_to_remind(self, hours: int) -> list[str]:
        """Codes of referrals nobody acknowledged within ``hours`` and not reminded since."""

        def run(conn: Connection) -> list[str]:
            cutoff = self._now() - timedelta(hours=hours)
            stmt = (
                select(_R.c.ref_code)
                .where(
                    _R.c.acknowledged_at.is_(None),
                    _R.c.created_at <= cutoff,
                    or_(_R.c.reminded_at.is_(None), _R.c.reminded_at <= cutoff),
                )
                .order_by(_R.c.id)
            )
            return list(conn.execute(stmt).scalars())

        return await self._run(run, write=False)

    async def mark_reminded(self, ref_codes: Sequence[str]) -> None:
        if ref_codes:
            stmt = update(_R).where(_R.c.ref_code.in_(list(ref_codes)))
            await self._run(lambda c: c.execute(stmt.values(reminded_at=self._now())))

    # ----------------------------------------------------------------- statistics and audit

    async def funnel(self) -> list[FunnelRow]:
        """One row per conversation: how far it got (for ``/stats``)."""
        k, o = m.consents, m.outcomes

        def run(conn: Connection) -> list[FunnelRow]:
            consent: dict[int, bool] = {}
            for cid, granted in conn.execute(
                select(k.c.conversation_id, k.c.granted)
                .where(k.c.kind == "health_processing")
                .order_by(k.c.id)
            ):
                consent[cid] = bool(granted)
            outcome = {
                r[0]: r[1]
                for r in conn.execute(select(o.c.conversation_id, o.c.outcome).order_by(o.c.id))
            }
            referral = {
                r[0]: r[1]
                for r in conn.execute(select(_R.c.conversation_id, _R.c.status).order_by(_R.c.id))
            }
            return [
                FunnelRow(
                    lang, source, status, consent.get(cid), outcome.get(cid), referral.get(cid)
                )
                for cid, lang, source, status in conn.execute(
                    select(_C.c.id, _C.c.lang, _C.c.source, _C.c.status).order_by(_C.c.id)
                )
            ]

        return await self._run(run, write=False)

    def _audit(
        self,
        conn: Connection,
        now: datetime,
        actor_hash: str | None,
        action: str,
        subject: str | None,
        detail: dict[str, Any],
    ) -> None:
        conn.execute(
            insert(m.audit_log),
            {
                "at": now,
                "actor_hash": actor_hash,
                "action": action,
                "subject": subject,
                "detail": detail,
            },
        )

    async def audit(
        self,
        actor_key: str | None,
        action: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Log a coordinator action (e.g. a refused button press). ``subject`` and ``detail``
        must not contain personal data; the actor is stored as a keyed hash."""
        actor = None if actor_key is None else self._crypto.lookup(actor_key)
        await self._run(lambda c: self._audit(c, self._now(), actor, action, subject, detail or {}))

    async def recent_audit(self, limit: int = 50) -> list[AuditView]:
        a = m.audit_log
        stmt = (
            select(a.c.at, a.c.actor_hash, a.c.action, a.c.subject, a.c.detail)
            .order_by(a.c.id.desc())
            .limit(limit)
        )
        rows = await self._run(lambda c: c.execute(stmt).all(), write=False)
        return [AuditView(*r) for r in rows]

    # ----------------------------------------------------------------- keys

    async def rotate_batch(self, size: int = 500) -> tuple[str, int] | None:
        """One step of ``python -m bot rotate-key`` (see ``keys.rotate_batch``)."""
        return await self._run(lambda c: keys.rotate_batch(c, self._crypto, size))

    # ----------------------------------------------------------------- erasure and retention

    async def erase_person(self, user_key: str, *, actor_key: str | None = None) -> Erasure:
        """Remove every row about this person and leave an audit line without personal data.

        ``actor_key``: the coordinator who did it, when it was not the person themselves.
        Inside a turn, use ``Turn.erase()`` instead (same effect, in that turn's transaction).
        """
        actor = None if actor_key is None else self._crypto.lookup(actor_key)
        async with _TurnScope(self, self._crypto.lookup(user_key), None) as turn:
            turn.erase()
            turn._erase_actor = actor
        assert turn.erasure is not None
        log.info("erased one person's data (%d rows)", sum(turn.erasure.counts.values()))
        return turn.erasure

    async def purge(
        self,
        now: datetime | None = None,
        retention_days: int = 30,
        *,
        finished_days: int | None = None,
        referral_days: int | None = None,
    ) -> dict[str, int]:
        """Delete what is past retention (see ``retention.purge_rows``: ``finished_days``
        unset means ``retention_days``, ``referral_days`` unset keeps referrals) and leave an
        audit line; returns row counts per table."""
        keep = retention.Retention(retention_days, finished_days, referral_days)
        if min(d for d in (retention_days, finished_days, referral_days, 1) if d is not None) < 1:
            raise ValueError("retention periods must be at least 1 day")

        def run(conn: Connection) -> dict[str, int]:
            at = now or self._now()
            counts = retention.purge_rows(conn, at, keep, self._crypto.encrypt)
            detail = {
                "retention_days": retention_days,
                "finished_days": finished_days,
                "referral_days": referral_days,
                "rows": counts,
            }
            self._audit(conn, at, None, "purge", None, detail)
            return counts

        counts = await self._run(run)
        log.info("purge removed %d conversations", counts["conversations"])
        return counts


class _TurnScope:
    """``async with store.turn(...)``: a plain class, cheaper than a generator-based one."""

    __slots__ = ("aconn", "lock", "raw", "store", "turn", "update_id", "user_hash")

    def __init__(self, store: Store, user_hash: str, update_id: int | None) -> None:
        self.store = store
        self.user_hash = user_hash
        self.update_id = update_id
        self.lock: asyncio.Lock | None = None
        self.turn: Turn | None = None
        self.aconn: Any = None
        self.raw: Any = None

    async def __aenter__(self) -> Turn:
        store = self.store
        locks = store._locks
        lock = locks.get(self.user_hash)
        if lock is None:
            lock = locks[self.user_hash] = asyncio.Lock()
        await lock.acquire()  # one turn at a time per person in this process
        self.lock = lock
        try:
            backend = store._backend
            if isinstance(backend, _Sqlite):
                loaded = await self._enter_sqlite(backend)
            else:
                loaded = await self._enter_pg(backend)
        except BaseException:
            lock.release()
            raise
        self.turn = turn = Turn(self.user_hash, self.update_id, loaded)
        return turn

    async def __aexit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        turn = self.turn
        assert turn is not None and self.lock is not None
        try:
            if isinstance(self.store._backend, _Sqlite):
                if exc_type is None:
                    await self._exit_sqlite(self.store._backend, turn)
            else:
                await self._exit_pg(turn, ok=exc_type is None)
        finally:
            self.lock.release()
        if turn.duplicate:
            log.info("update already processed; skipped (conversation %s)", _short(turn.user_hash))

    # SQLite: read now, write everything at the end in one BEGIN IMMEDIATE ... COMMIT.

    async def _enter_sqlite(self, b: _Sqlite) -> turns.Loaded:
        store = self.store
        async with b.lock:  # only waits while the worker thread has the connection
            if b.driver is None:
                await asyncio.get_running_loop().run_in_executor(b.worker, b._connect)
            drv = b.driver
            assert drv is not None
            uid = self.update_id
            if uid is not None and await drv.row(store._sql.select_processed, {"u": uid}):
                return turns.Loaded(duplicate=True)
            return await turns.load(drv, store._sql, store._crypto, self.user_hash)

    async def _exit_sqlite(self, b: _Sqlite, turn: Turn) -> None:
        if turn.duplicate or (self.update_id is None and not turn.has_writes()):
            return
        store = self.store
        async with b.lock:
            raw, drv = b.raw, b.driver
            assert raw is not None and drv is not None
            raw.execute("BEGIN IMMEDIATE")
            try:
                await turns.flush(drv, store._sql, store._crypto, turn, store._now(), mark=True)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
        b.wrote()

    # PostgreSQL: one transaction from entry to exit, holding the conversation's lock.

    async def _enter_pg(self, b: _Postgres) -> turns.Loaded:
        store = self.store
        await b.slots.acquire()  # released in _close_pg, whatever happens
        try:
            self.aconn = aconn = await b.engine.connect()
        except BaseException:
            b.slots.release()
            raise
        try:
            raw: Any = (await aconn.get_raw_connection()).driver_connection
            self.raw = raw
            status = await raw.execute(turns.pg_begin(self.user_hash, self.update_id, store._now()))
            if self.update_id is not None and status.endswith(" 0"):
                await raw.execute("ROLLBACK")
                return turns.Loaded(duplicate=True)
            return await turns.load(turns.PgDriver(raw), store._sql, store._crypto, self.user_hash)
        except BaseException:
            await self._abandon_pg()
            raise

    async def _exit_pg(self, turn: Turn, *, ok: bool) -> None:
        store = self.store
        if turn.duplicate:
            await self._close_pg()
            return
        if not ok:
            await self._abandon_pg()
            return
        try:
            drv = turns.PgDriver(self.raw)
            await turns.flush(drv, store._sql, store._crypto, turn, store._now(), mark=False)
            await self.raw.execute("COMMIT")
        except BaseException:
            await self._abandon_pg()
            raise
        await self._close_pg()

    async def _abandon_pg(self) -> None:
        raw, aconn = self.raw, self.aconn
        try:
            if raw is not None and not raw.is_closed() and raw.is_in_transaction():
                await raw.execute("ROLLBACK")
        except Exception:
            log.warning("rollback failed; dropping the connection", exc_info=True)
        try:
            if raw is not None and (raw.is_closed() or raw.is_in_transaction()):
                await aconn.invalidate()
        finally:
            await self._close_pg()

    async def _close_pg(self) -> None:
        """Give the connection back to the pool, and the slot to the next in the queue."""
        aconn, self.aconn, self.raw = self.aconn, None, None
        backend = self.store._backend
        assert isinstance(backend, _Postgres)
        try:
            if aconn is not None:
                await aconn.close()
        finally:
            backend.slots.release()
