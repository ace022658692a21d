"""The repository API: everything the channels and the handoff keep, behind one ``Store``.

Per update, the adapter does::

    async with store.turn("tg:12345", update.update_id) as turn:
        if turn.duplicate:
            return                          # already handled: nothing to do, nothing written
        record = turn.record                # dict from Conversation.to_json(), or None if new
        ...                                 # run the engine (pure, no I/O)
        turn.save(conversation.to_json(), chat_id=chat_id)
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
    # committed here; only now send the replies

How a turn reaches the database
-------------------------------
The database work of one update is one short transaction of Core statements, and the methods
of ``Turn`` only buffer: they do no I/O. What differs is how each database keeps
per-conversation order:

* **SQLite** (one process). A whole ``sqlite3`` transaction costs less than a single aiosqlite
  round trip, so the store runs plain ``sqlite3`` on one worker thread that owns one connection,
  and each step is one call to that thread: entering a turn reads the record (one call, no lock
  held while the engine runs); leaving it writes everything in one ``BEGIN IMMEDIATE`` ...
  ``COMMIT`` (one call). An ``asyncio.Lock`` per conversation keeps one process's turns in
  order. If another process shares the file, a version counter catches a conflicting write
  (``ConcurrentTurnError``, nothing written) instead of losing it.
* **PostgreSQL** (any number of processes). Entering a turn begins a transaction, takes a
  transaction-scoped advisory lock on the conversation and marks the update processed in one
  statement, then reads the row ``FOR UPDATE``; leaving it writes and commits. A second process
  with an update for the same person waits for the first to commit, so order holds across
  processes, and a re-delivered update waits and is then seen as a duplicate.

The update id is marked processed in the same transaction as the answer, so an update is
either fully applied and marked, or not at all (and will be handled when re-delivered).

Personal values are encrypted (``crypto.py``) and people are found by keyed hash; logs carry
only the first characters of that hash and counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.storage import db, retention
from bot.storage import models as m
from bot.storage.crypto import Crypto
from bot.storage.errors import (
    ConcurrentTurnError,
    ReferralNotFoundError,
    SchemaNotReadyError,
    StaleStatusError,
    StorageError,
    WrongKeyError,
)
from bot.storage.migrations import current_revision, head_revision

log = logging.getLogger("bot.storage")

T = TypeVar("T")
Record = dict[str, Any]

#: Reference codes: no 0/O, 1/I/L; 31**8 codes, printed as CZ-XXXX-XXXX.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _short(user_hash: str) -> str:
    """What logs may show of a person: the first characters of their keyed hash."""
    return user_hash[:12]


def new_ref_code() -> str:
    chars = "".join(secrets.choice(REF_ALPHABET) for _ in range(8))
    return f"CZ-{chars[:4]}-{chars[4:]}"


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


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
    user_hash: str | None


@dataclass(frozen=True, slots=True)
class Erasure:
    """What ``erase_person`` removed: row counts, and the team-chat cards now pointing nowhere."""

    counts: dict[str, int]
    cards: list[tuple[str, int | None]]  # (reference code, card message id)


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


# --------------------------------------------------------------------------- the turn


@dataclass(slots=True)
class _Loaded:
    duplicate: bool
    conversation_id: int | None = None
    version: int = 0
    status: str | None = None
    record: Record | None = None
    has_chat: bool = False
    last_update_id: int | None = None


@dataclass(slots=True)
class _Save:
    record_json: str
    status: str
    lang: str
    source: str
    flow_id: str
    flow_version: str


class Turn:
    """One update's view of a conversation. Methods buffer; the store writes on exit."""

    def __init__(self, user_hash: str, update_id: int | None, loaded: _Loaded) -> None:
        self.user_hash = user_hash
        self.update_id = update_id
        self.duplicate = loaded.duplicate
        self.record: Record | None = loaded.record
        self.status: str | None = loaded.status
        #: True when an update with a higher id was already applied to this conversation.
        self.stale = (
            update_id is not None
            and loaded.last_update_id is not None
            and update_id < loaded.last_update_id
        )
        #: After a turn that called ``erase()``: what was removed.
        self.erasure: Erasure | None = None
        self._loaded = loaded
        self._save: _Save | None = None
        self._chat_id: int | None = None
        self._answers: list[dict[str, Any]] = []
        self._outcomes: list[dict[str, Any]] = []
        self._consents: list[dict[str, Any]] = []
        self._contact: dict[str, Any] | None = None
        self._referrals: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._alerts: tuple[str, str] | bool | None = False  # False: untouched; None: opt out
        self._erase = False

    @property
    def is_new(self) -> bool:
        return self._loaded.conversation_id is None

    def _check(self) -> None:
        if self.duplicate:
            raise RuntimeError("this update was already processed; nothing may be written")
        if self._erase:
            raise RuntimeError("erase() ends the turn; nothing else may be written")

    def _has_children(self) -> bool:
        return bool(
            self._answers
            or self._outcomes
            or self._consents
            or self._contact
            or self._referrals
            or self._outbox
            or self._alerts is not False
        )

    def _has_writes(self) -> bool:
        return self._erase or self._save is not None or self._has_children()

    def save(
        self,
        record: Record,
        *,
        status: str = "active",
        lang: str | None = None,
        source: str | None = None,
        flow_id: str | None = None,
        flow_version: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Keep the engine's record. ``lang``, ``source``, flow id and version default to the
        record's own ``lang``, ``source``, ``flow`` and ``ver`` keys. ``chat_id`` (where replies
        go) is stored, encrypted, when the conversation has none yet."""
        self._check()
        if status not in m.CONVERSATION_STATUSES:
            raise ValueError(f"unknown conversation status {status!r}")
        self._save = _Save(
            record_json=_dumps(record),
            status=status,
            lang=lang if lang is not None else str(record.get("lang", "")),
            source=source if source is not None else str(record.get("source", "")),
            flow_id=flow_id if flow_id is not None else str(record.get("flow", "")),
            flow_version=flow_version if flow_version is not None else str(record.get("ver", "")),
        )
        if chat_id is not None:
            self._chat_id = chat_id
        self.record = record
        self.status = status

    def add_answer(
        self, fact: str, value: str, raw: str = "", unit: str = "", *, at: datetime | None = None
    ) -> None:
        """Keep one answer as a history row (a changed answer is another row)."""
        self._check()
        self._answers.append(
            {"fact": fact, "value": value, "raw": raw or None, "unit": unit or "", "at": at}
        )

    def set_outcome(
        self,
        outcome: str,
        *,
        failed: Sequence[str] = (),
        unknown: Sequence[str] = (),
        flow_id: str,
        protocol_version: str,
    ) -> None:
        self._check()
        self._outcomes.append(
            {
                "outcome": outcome,
                "failed": list(failed),
                "unknown": list(unknown),
                "flow_id": flow_id,
                "protocol_version": protocol_version,
            }
        )

    def add_consent(self, kind: str, granted: bool, wording: str, lang: str) -> None:
        """Record a consent given or declined, with the exact words shown."""
        self._check()
        self._consents.append({"kind": kind, "granted": granted, "wording": wording, "lang": lang})

    def save_contact(
        self,
        *,
        name: str | None,
        phone: str | None,
        email: str | None = None,
        username: str | None = None,
        best_time: str | None = None,
        call_lang: str | None = None,
    ) -> None:
        """Replace the person's contact details (stored encrypted)."""
        self._check()
        self._contact = {
            "name": name,
            "phone": phone,
            "email": email,
            "username": username,
            "best_time": best_time,
            "call_lang": call_lang,
        }

    def create_referral(self, outcome: str) -> str:
        """Create a referral (status ``new``) and return its reference code, e.g. CZ-7K3M-Q9P2."""
        self._check()
        code = new_ref_code()
        self._referrals.append({"ref_code": code, "outcome": outcome})
        return code

    def enqueue(self, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
        """Queue a message for the outbox in this turn's transaction. A second item with the
        same ``dedupe_key`` (e.g. the reference code) is ignored."""
        self._check()
        self._outbox.append({"kind": kind, "dedupe_key": dedupe_key, "payload": payload})

    def opt_in_alerts(self, lang: str, topic: str = "diabetes_trials") -> None:
        self._check()
        self._alerts = (topic, lang)

    def opt_out_alerts(self) -> None:
        self._check()
        self._alerts = None

    def erase(self) -> None:
        """Erase everything about this person when the turn ends (``/delete``)."""
        self._check()
        if self._save is not None or self._has_children():
            raise RuntimeError("erase() cannot be combined with other writes in one turn")
        self._erase = True


# --------------------------------------------------------------------------- running SQL


class _SqliteRunner:
    """One worker thread owning one plain sqlite3 connection: one thread hop per transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialbot-db")
        self._conn: Connection | None = None

    def _call(self, fn: Callable[[Connection], T], write: bool) -> T:
        conn = self._conn
        if conn is None:
            conn = self._conn = self._engine.connect()
        conn.info["sqlite_immediate"] = write
        try:
            with conn.begin():
                return fn(conn)
        except BaseException:
            if conn.invalidated or conn.closed:
                self._conn = None
            raise

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, write)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)


class _PgRunner:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @staticmethod
    def _in_tx(conn: Connection, fn: Callable[[Connection], T]) -> T:
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        async with self.engine.connect() as aconn:
            return await aconn.run_sync(self._in_tx, fn)

    async def close(self) -> None:
        await self.engine.dispose()


# --------------------------------------------------------------------------- the store


_C = m.conversations
_PU = m.processed_updates
_O = m.outbox
_R = m.referrals

_SELECT_CONVERSATION = select(
    _C.c.id,
    _C.c.version,
    _C.c.status,
    _C.c.record_enc,
    _C.c.chat_enc.is_not(None),
    _C.c.last_update_id,
).where(_C.c.user_hash == bindparam("h"))
_SELECT_PROCESSED = select(_PU.c.update_id).where(_PU.c.update_id == bindparam("u"))
_INSERT_CONVERSATION = insert(_C).returning(_C.c.id)
_UPDATE_CONVERSATION = (
    update(_C)
    .where(_C.c.id == bindparam("b_id"), _C.c.version == bindparam("b_version"))
    .values(
        version=_C.c.version + 1,
        last_update_id=func.coalesce(bindparam("b_update", type_=BigInteger), _C.c.last_update_id),
    )
)
_SQLITE_MARK = sqlite.insert(_PU).on_conflict_do_nothing()
_SET_CHAT = update(_C).where(_C.c.id == bindparam("b_id")).values(chat_enc=bindparam("b_chat"))
_PG_LOCK_AND_MARK = text(
    "WITH lk AS (SELECT pg_advisory_xact_lock(:k)) "
    "INSERT INTO processed_updates (update_id, at) SELECT :u, :at FROM lk "
    "ON CONFLICT DO NOTHING RETURNING update_id"
).bindparams(
    bindparam("k", type_=BigInteger),
    bindparam("u", type_=BigInteger),
    bindparam("at", type_=m.UTCDateTime()),
)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:k)").bindparams(bindparam("k", type_=BigInteger))


def _lock_key(user_hash: str) -> int:
    """A signed 64-bit advisory lock key from a keyed hash."""
    return int.from_bytes(bytes.fromhex(user_hash[:16]), "big", signed=True)


class Store:
    """The bot's durable state. Open once per process with ``await Store.open(settings)``."""

    def __init__(
        self,
        url: URL,
        crypto: Crypto,
        runner: _SqliteRunner | _PgRunner,
        clock: Callable[[], datetime],
    ) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self._crypto = crypto
        self._runner = runner
        self._now = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._upsert: Callable[[Any], Any] = (
            postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        )

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
        database cannot be used, and ``SchemaNotReadyError`` when it needs ``db upgrade``.
        """
        key = settings.data_encryption_key
        crypto = Crypto(key.get_secret_value() if key is not None else None)
        url = db.parse_url(settings.database_url)
        runner: _SqliteRunner | _PgRunner
        if db.is_sqlite(url):
            runner = _SqliteRunner(db.create_sqlite_sync(url, busy_timeout=busy_timeout))
        else:
            runner = _PgRunner(db.create_async(url, busy_timeout=busy_timeout))
        store = cls(url, crypto, runner, clock)
        try:
            await store._runner.run(store._check_database, write=True)
        except StorageError:
            await runner.close()
            raise
        except Exception as exc:
            await runner.close()
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
        check = self._crypto.key_check
        stmt = select(m.meta.c.value).where(m.meta.c.key == "key_check")
        stored = conn.execute(stmt).scalar_one_or_none()
        if stored is None:
            rows = [
                {"key": "key_check", "value": check},
                {"key": "key_check_created_at", "value": self._now().isoformat()},
            ]
            conn.execute(self._upsert(m.meta).on_conflict_do_nothing(), rows)
            stored = conn.execute(stmt).scalar_one()
        if stored != check:
            raise WrongKeyError(
                "DATA_ENCRYPTION_KEY is not the key this database was first used with, so its "
                "personal data cannot be read. Nothing was changed. Set DATA_ENCRYPTION_KEY back "
                f"to the original key (database: DATABASE_URL={db.describe(self.url)})."
            )

    async def close(self) -> None:
        await self._runner.close()

    def user_hash(self, user_key: str) -> str:
        """The keyed hash stored for a channel user id such as ``"tg:12345"``."""
        return self._crypto.lookup(user_key)

    # ----------------------------------------------------------------- the hot path

    def turn(
        self, user_key: str, update_id: int | None = None
    ) -> AbstractAsyncContextManager[Turn]:
        """One update's transaction for the person ``user_key`` (see the module docstring).

        ``Turn.duplicate`` is True when ``update_id`` was already processed (then nothing may
        be written). Leaving the block normally commits; an exception writes nothing.
        """
        return self._turn(self._crypto.lookup(user_key), update_id)

    @asynccontextmanager
    async def _turn(self, user_hash: str, update_id: int | None) -> AsyncIterator[Turn]:
        lock = self._locks.get(user_hash)
        if lock is None:
            lock = self._locks[user_hash] = asyncio.Lock()
        async with lock:
            if isinstance(self._runner, _SqliteRunner):
                runner = self._runner
                loaded = await runner.run(
                    lambda c: self._load(c, user_hash, update_id, False), write=False
                )
                turn = Turn(user_hash, update_id, loaded)
                yield turn
                if not turn.duplicate and (update_id is not None or turn._has_writes()):
                    await runner.run(lambda c: self._flush(c, turn, True), write=True)
            else:
                async with self._runner.engine.connect() as aconn:
                    loaded = await aconn.run_sync(self._load, user_hash, update_id, True)
                    turn = Turn(user_hash, update_id, loaded)
                    if turn.duplicate:
                        await aconn.rollback()
                        yield turn
                    else:
                        yield turn
                        await aconn.run_sync(self._flush, turn, False)
                        await aconn.commit()
        if turn.duplicate:
            log.info("update already processed; skipped (conversation %s)", _short(user_hash))

    def _load(self, conn: Connection, user_hash: str, update_id: int | None, pg: bool) -> _Loaded:
        if pg:
            key = _lock_key(user_hash)
            if update_id is None:
                conn.execute(_PG_LOCK, {"k": key})
            elif (
                conn.execute(
                    _PG_LOCK_AND_MARK, {"k": key, "u": update_id, "at": self._now()}
                ).first()
                is None
            ):
                return _Loaded(duplicate=True)
            row = conn.execute(_SELECT_CONVERSATION.with_for_update(), {"h": user_hash}).first()
        else:
            if update_id is not None and conn.execute(_SELECT_PROCESSED, {"u": update_id}).first():
                return _Loaded(duplicate=True)
            row = conn.execute(_SELECT_CONVERSATION, {"h": user_hash}).first()
        if row is None:
            return _Loaded(duplicate=False)
        cid, version, status, record_enc, has_chat, last_update_id = row
        return _Loaded(
            duplicate=False,
            conversation_id=cid,
            version=version,
            status=status,
            record=json.loads(self._crypto.decrypt(record_enc)),
            has_chat=bool(has_chat),
            last_update_id=last_update_id,
        )

    def _flush(self, conn: Connection, turn: Turn, mark_update: bool) -> None:
        now = self._now()
        crypto = self._crypto
        if mark_update and turn.update_id is not None:
            marked = conn.execute(_SQLITE_MARK, {"update_id": turn.update_id, "at": now})
            if marked.rowcount != 1:
                raise ConcurrentTurnError("the update was processed by another process meanwhile")
        if turn._erase:
            turn.erasure = self._erase(conn, turn.user_hash, None, now)
            return
        loaded = turn._loaded
        cid = loaded.conversation_id
        saved = turn._save
        if saved is not None:
            values = {
                "record_enc": crypto.encrypt(saved.record_json),
                "status": saved.status,
                "lang": saved.lang,
                "source": saved.source,
                "flow_id": saved.flow_id,
                "flow_version": saved.flow_version,
                "updated_at": now,
            }
            if cid is None:
                chat = turn._chat_id
                values.update(
                    user_hash=turn.user_hash,
                    chat_enc=None if chat is None else crypto.encrypt(str(chat)),
                    version=1,
                    last_update_id=turn.update_id,
                    created_at=now,
                )
                try:
                    cid = conn.execute(_INSERT_CONVERSATION, values).scalar_one()
                except IntegrityError:
                    raise ConcurrentTurnError(
                        "the conversation was created by another process meanwhile"
                    ) from None
            else:
                values.update(b_id=cid, b_version=loaded.version, b_update=turn.update_id)
                if conn.execute(_UPDATE_CONVERSATION, values).rowcount != 1:
                    raise ConcurrentTurnError(
                        "the conversation was changed by another process meanwhile"
                    )
                if turn._chat_id is not None and not loaded.has_chat:
                    conn.execute(
                        _SET_CHAT, {"b_id": cid, "b_chat": crypto.encrypt(str(turn._chat_id))}
                    )
        if cid is None:
            if turn._has_children():
                raise RuntimeError("save() a new conversation before adding anything to it")
            return
        if turn._answers:
            conn.execute(
                insert(m.answers),
                [
                    {
                        "conversation_id": cid,
                        "fact": a["fact"],
                        "value": a["value"],
                        "raw_enc": crypto.encrypt_opt(a["raw"]),
                        "unit": a["unit"],
                        "answered_at": a["at"] or now,
                    }
                    for a in turn._answers
                ],
            )
        if turn._outcomes:
            conn.execute(
                insert(m.outcomes),
                [{**o, "conversation_id": cid, "decided_at": now} for o in turn._outcomes],
            )
        if turn._consents:
            conn.execute(
                insert(m.consents),
                [{**c, "conversation_id": cid, "at": now} for c in turn._consents],
            )
        if turn._contact is not None:
            self._write_contact(conn, cid, turn._contact, now)
        for ref in turn._referrals:
            self._write_referral(conn, cid, ref, now)
        if turn._outbox:
            conn.execute(
                self._upsert(_O).on_conflict_do_nothing(index_elements=["dedupe_key"]),
                [self._outbox_values(o, cid, now, now) for o in turn._outbox],
            )
        if turn._alerts is not False:
            self._write_alerts(conn, cid, turn._alerts, now)
        log.debug(
            "turn committed (conversation %s, %d answers)",
            _short(turn.user_hash),
            len(turn._answers),
        )

    def _write_contact(
        self, conn: Connection, cid: int, contact: dict[str, Any], now: datetime
    ) -> None:
        enc = self._crypto.encrypt_opt
        values = {
            "name_enc": enc(contact["name"]),
            "phone_enc": enc(contact["phone"]),
            "email_enc": enc(contact["email"]),
            "username_enc": enc(contact["username"]),
            "best_time_enc": enc(contact["best_time"]),
            "call_lang": contact["call_lang"],
            "updated_at": now,
        }
        stmt = self._upsert(m.contacts).values(conversation_id=cid, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["conversation_id"], set_=values))

    def _write_referral(
        self, conn: Connection, cid: int, ref: dict[str, Any], now: datetime
    ) -> None:
        stmt = self._upsert(_R).on_conflict_do_nothing(index_elements=["ref_code"])
        values = {
            "ref_code": ref["ref_code"],
            "conversation_id": cid,
            "outcome": ref["outcome"],
            "status": "new",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        rid = conn.execute(stmt.returning(_R.c.id), values).scalar_one_or_none()
        if rid is None:
            # One chance in about 10**12 per referral; the update can simply be processed again.
            raise StorageError("a new reference code collided with an existing one; retry")
        conn.execute(
            insert(m.referral_history),
            {
                "referral_id": rid,
                "from_status": None,
                "to_status": "new",
                "actor_hash": None,
                "at": now,
            },
        )

    def _write_alerts(
        self, conn: Connection, cid: int, alerts: tuple[str, str] | bool | None, now: datetime
    ) -> None:
        if isinstance(alerts, tuple):
            topic, lang = alerts
            values = {"topic": topic, "lang": lang, "at": now}
            stmt = self._upsert(m.alert_optins).values(conversation_id=cid, **values)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["conversation_id"], set_=values)
            )
        else:
            conn.execute(delete(m.alert_optins).where(m.alert_optins.c.conversation_id == cid))

    def _outbox_values(
        self, item: dict[str, Any], cid: int | None, now: datetime, not_before: datetime
    ) -> dict[str, Any]:
        return {
            "kind": item["kind"],
            "dedupe_key": item["dedupe_key"],
            "conversation_id": cid,
            "payload_enc": self._crypto.encrypt(_dumps(item["payload"])),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": not_before,
            "created_at": now,
        }

    # ----------------------------------------------------------------- small look-ups

    async def find_chat(self, user_key: str) -> int | None:
        """The chat to write to for this person, or None."""
        user_hash = self._crypto.lookup(user_key)
        stmt = select(_C.c.chat_enc).where(_C.c.user_hash == user_hash)
        token = await self._runner.run(lambda c: c.execute(stmt).scalar_one_or_none(), write=False)
        return None if token is None else int(self._crypto.decrypt(token))

    async def answer_history(self, user_key: str) -> list[AnswerView]:
        """Every answer this person gave, oldest first (changed answers included)."""
        user_hash = self._crypto.lookup(user_key)
        a = m.answers
        stmt = (
            select(a.c.fact, a.c.value, a.c.raw_enc, a.c.unit, a.c.answered_at)
            .join(_C, _C.c.id == a.c.conversation_id)
            .where(_C.c.user_hash == user_hash)
            .order_by(a.c.id)
        )
        rows = await self._runner.run(lambda c: c.execute(stmt).all(), write=False)
        return [self._answer_view(r) for r in rows]

    def _answer_view(self, row: Any) -> AnswerView:
        fact, value, raw_enc, unit, at = row
        return AnswerView(fact, value, self._crypto.decrypt_opt(raw_enc) or "", unit, at)

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
            item = {"kind": kind, "dedupe_key": dedupe_key, "payload": payload}
            values = self._outbox_values(item, None, now, not_before or now)
            if cid_query is not None:
                values["conversation_id"] = cid_query
            stmt = self._upsert(_O).values(**values)
            return bool(
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])).rowcount
            )

        return await self._runner.run(run)

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
            hashes: dict[int, str] = {}
            cids = {r.conversation_id for r in rows if r.conversation_id is not None}
            if cids:
                hashes = dict(
                    conn.execute(select(_C.c.id, _C.c.user_hash).where(_C.c.id.in_(cids)))
                    .tuples()
                    .all()
                )
            return [
                OutboxItem(
                    id=r.id,
                    kind=r.kind,
                    dedupe_key=r.dedupe_key,
                    payload=json.loads(self._crypto.decrypt(r.payload_enc)),
                    attempts=r.attempts,
                    user_hash=hashes.get(r.conversation_id),
                )
                for r in sorted(rows, key=lambda r: r.id)
            ]

        items = await self._runner.run(run)
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
        return await self._runner.run(lambda c: c.execute(stmt, {"now": self._now()}).rowcount == 1)

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
        return await self._runner.run(lambda c: c.execute(stmt).rowcount == 1)

    async def outbox_counts(self) -> dict[str, int]:
        """Number of outbox items per status."""
        stmt = select(_O.c.status, func.count()).group_by(_O.c.status)
        rows = await self._runner.run(lambda c: c.execute(stmt).tuples().all(), write=False)
        return {status: count for status, count in rows}

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
            select(a.c.conversation_id, a.c.fact, a.c.value, a.c.raw_enc, a.c.unit, a.c.answered_at)
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

        return await self._runner.run(run, write=False)

    async def referrals(self, statuses: Iterable[str] | None = None) -> list[ReferralDetails]:
        """Referrals oldest first; all of them (``/export``) or those in ``statuses``
        (``/referrals``: ``models.OPEN_REFERRAL_STATUSES``)."""
        stmt = self._referral_query().order_by(_R.c.id)
        if statuses is not None:
            stmt = stmt.where(_R.c.status.in_(list(statuses)))
        return await self._runner.run(
            lambda c: self._details(c, c.execute(stmt).all()), write=False
        )

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
        pressing buttons) ``StaleStatusError`` is raised and nothing changes. Leaving ``new``
        acknowledges the referral (``first_acknowledgement``: tell the patient).
        """
        if new_status not in m.REFERRAL_STATUSES:
            raise ValueError(f"unknown referral status {new_status!r}")
        actor = self._crypto.lookup(actor_key)

        def run(conn: Connection) -> StatusChange:
            now = self._now()
            stmt = select(_R.c.id, _R.c.status, _R.c.acknowledged_at).where(
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

        return await self._runner.run(run)

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

        return await self._runner.run(run)

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

        return await self._runner.run(run)

    async def set_card_message(self, ref_code: str, message_id: int) -> None:
        """Remember the team-chat message that shows this referral's card."""
        stmt = update(_R).where(_R.c.ref_code == ref_code).values(card_message_id=message_id)
        await self._runner.run(lambda c: c.execute(stmt))

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

        return await self._runner.run(run, write=False)

    async def mark_reminded(self, ref_codes: Sequence[str]) -> None:
        if ref_codes:
            stmt = update(_R).where(_R.c.ref_code.in_(list(ref_codes)))
            await self._runner.run(lambda c: c.execute(stmt.values(reminded_at=self._now())))

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
            outcome = dict(
                conn.execute(select(o.c.conversation_id, o.c.outcome).order_by(o.c.id))
                .tuples()
                .all()
            )
            referral = dict(
                conn.execute(select(_R.c.conversation_id, _R.c.status).order_by(_R.c.id))
                .tuples()
                .all()
            )
            return [
                FunnelRow(
                    lang, source, status, consent.get(cid), outcome.get(cid), referral.get(cid)
                )
                for cid, lang, source, status in conn.execute(
                    select(_C.c.id, _C.c.lang, _C.c.source, _C.c.status).order_by(_C.c.id)
                )
            ]

        return await self._runner.run(run, write=False)

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
        await self._runner.run(
            lambda c: self._audit(c, self._now(), actor, action, subject, detail or {})
        )

    async def recent_audit(self, limit: int = 50) -> list[AuditView]:
        a = m.audit_log
        stmt = (
            select(a.c.at, a.c.actor_hash, a.c.action, a.c.subject, a.c.detail)
            .order_by(a.c.id.desc())
            .limit(limit)
        )
        rows = await self._runner.run(lambda c: c.execute(stmt).all(), write=False)
        return [AuditView(*r) for r in rows]

    # ----------------------------------------------------------------- erasure and retention

    def _erase(
        self, conn: Connection, user_hash: str, actor_hash: str | None, now: datetime
    ) -> Erasure:
        ids = select(_C.c.id).where(_C.c.user_hash == user_hash)
        counts, cards = retention.delete_conversations(conn, ids)
        # The audit line says that an erasure happened and how much it removed; nothing in it
        # points back to the person (not even their keyed hash).
        self._audit(
            conn,
            now,
            actor_hash,
            "erase_person",
            None,
            {"by": "coordinator" if actor_hash else "self", "rows": counts},
        )
        log.info("erased one person's data (%d conversation rows)", counts["conversations"])
        return Erasure(counts, cards)

    async def erase_person(self, user_key: str, *, actor_key: str | None = None) -> Erasure:
        """Remove every row about this person and leave an audit line without personal data.

        ``actor_key``: the coordinator who did it, when it was not the person themselves.
        Inside a turn, use ``Turn.erase()`` instead (same effect, same transaction).
        """
        user_hash = self._crypto.lookup(user_key)
        actor = None if actor_key is None else self._crypto.lookup(actor_key)

        def run(conn: Connection) -> Erasure:
            if self.dialect == "postgresql":
                conn.execute(_PG_LOCK, {"k": _lock_key(user_hash)})
            return self._erase(conn, user_hash, actor, self._now())

        return await self._runner.run(run)

    async def purge(
        self,
        now: datetime | None = None,
        retention_days: int = 30,
        *,
        finished_days: int | None = None,
    ) -> dict[str, int]:
        """Delete what is past retention (see ``retention.purge_rows``) and leave an audit line;
        returns row counts per table."""
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")

        def run(conn: Connection) -> dict[str, int]:
            at = now or self._now()
            counts = retention.purge_rows(conn, at, retention_days, finished_days)
            detail = {"retention_days": retention_days, "rows": counts}
            self._audit(conn, at, None, "purge", None, detail)
            return counts

        counts = await self._runner.run(run)
        log.info("purge removed %d conversations", counts["conversations"])
        return counts
