"""The hot path: one update's load and writes.

The statements are SQLAlchemy Core, compiled once per dialect when the store opens, and run
directly on the driver connection (``sqlite3`` or asyncpg): per statement that skips
SQLAlchemy's execution machinery, which on these machines costs several times the database
work itself. Values reach the driver as SQLAlchemy would send them (UTC text for SQLite times,
JSON as text).

``Turn`` only buffers; ``load`` and ``flush`` do the I/O through a small driver interface, the
same code for both databases.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import BigInteger, ClauseElement, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from bot.engine.reference import new_reference
from bot.storage import models as m
from bot.storage import retention
from bot.storage.crypto import Crypto
from bot.storage.errors import ConcurrentTurnError, StorageError

Record = dict[str, Any]


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed: row counts, and the team-chat cards now pointing nowhere."""

    counts: dict[str, int]
    cards: list[tuple[str, int | None]]  # (reference code, card message id)


# --------------------------------------------------------------------------- the turn


@dataclass(slots=True)
class Loaded:
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
    """One update's view of a conversation. Its methods only buffer; the store writes
    everything in one transaction when the ``async with`` block ends."""

    def __init__(self, user_hash: str, update_id: int | None, loaded: Loaded) -> None:
        #: The person's keyed hash: safe for logs (shortened) and audit lines.
        self.user_hash = user_hash
        self.update_id = update_id
        #: True when this update was already processed: do nothing, write nothing.
        self.duplicate = loaded.duplicate
        #: The engine's record (``Conversation.to_json()``), or None for a new conversation.
        self.record: Record | None = loaded.record
        self.status: str | None = loaded.status
        #: True when an update with a higher id was already applied to this conversation
        #: (an old update re-delivered late, or updates of one chat racing across processes).
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
        self._contact: dict[str, str | None] | None = None
        self._referrals: list[dict[str, str]] = []
        self._outbox: list[dict[str, Any]] = []
        self._alerts: tuple[str, str] | bool | None = False  # False: untouched; None: opt out
        self._erase = False
        self._erase_actor: str | None = None

    @property
    def is_new(self) -> bool:
        return self._loaded.conversation_id is None

    def _check(self) -> None:
        if self.duplicate:
            raise RuntimeError("this update was already processed; nothing may be written")
        if self._erase:
            raise RuntimeError("erase() ends the turn; nothing else may be written")

    def has_children(self) -> bool:
        return bool(
            self._answers
            or self._outcomes
            or self._consents
            or self._contact
            or self._referrals
            or self._outbox
            or self._alerts is not False
        )

    def has_writes(self) -> bool:
        return self._erase or self._save is not None or self.has_children()

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
        """Keep the engine's record (a snapshot is taken now). ``lang``, ``source``, flow id and
        version default to the record's own ``lang``, ``source``, ``flow`` and ``ver`` keys.
        ``chat_id`` (where replies go) is stored, encrypted, when the conversation has none."""
        self._check()
        if status not in m.CONVERSATION_STATUSES:
            raise ValueError(f"unknown conversation status {status!r}")
        self._save = _Save(
            record_json=dumps(record),
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
        """Keep one answer as a history row, with its time (a changed answer is another row).
        ``raw``, the patient's own words, is stored encrypted."""
        self._check()
        self._answers.append({"fact": fact, "value": value, "raw": raw, "unit": unit, "at": at})

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
                "failed": dumps(list(failed)),
                "unknown": dumps(list(unknown)),
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
        """Replace the person's contact details; all but ``call_lang`` are stored encrypted."""
        self._check()
        self._contact = {
            "name": name,
            "phone": phone,
            "email": email,
            "username": username,
            "best_time": best_time,
            "call_lang": call_lang,
        }

    def create_referral(self, outcome: str, code: str | None = None) -> str:
        """Create a referral (status ``new``) and return its reference code (CZ-7K3M-Q9P2).

        ``code`` is one the caller already showed the patient (made with ``new_reference``)."""
        self._check()
        code = code or new_reference()
        self._referrals.append({"ref_code": code, "outcome": outcome})
        return code

    def enqueue(self, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
        """Queue an outbox message in this turn's transaction (stored encrypted). A second
        item with the same ``dedupe_key`` (e.g. the reference code) is ignored."""
        self._check()
        self._outbox.append({"kind": kind, "dedupe_key": dedupe_key, "payload": payload})

    def opt_in_alerts(self, lang: str, topic: str = "diabetes_trials") -> None:
        self._check()
        self._alerts = (topic, lang)

    def opt_out_alerts(self) -> None:
        self._check()
        self._alerts = None

    def erase(self) -> None:
        """Erase everything about this person when the turn ends (``/delete``); the result is
        in ``erasure`` afterwards."""
        self._check()
        if self._save is not None or self.has_children():
            raise RuntimeError("erase() cannot be combined with other writes in one turn")
        self._erase = True


# --------------------------------------------------------------------------- statements


class Sql:
    """A Core statement compiled once for one dialect, with its parameter order."""

    __slots__ = ("fixed", "names", "sql")

    def __init__(
        self, stmt: ClauseElement, dialect: Dialect, keys: Sequence[str] | None = None
    ) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        # Values written into the statement itself, such as the 1 of ``version + 1``.
        self.fixed = {
            name: bind.effective_value
            for name in self.names
            if not (bind := compiled.binds[name]).required and bind.callable is None
        }

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.fixed:
            params = {**self.fixed, **params}
        return tuple(params[name] for name in self.names)


_C, _A, _R, _O, _PU = m.conversations, m.answers, m.referrals, m.outbox, m.processed_updates
_CONVERSATION_KEYS = (
    "record_enc",
    "status",
    "lang",
    "source",
    "flow_id",
    "flow_version",
    "updated_at",
)
_CONTACT_KEYS = (
    "name_enc",
    "phone_enc",
    "email_enc",
    "username_enc",
    "best_time_enc",
    "call_lang",
    "updated_at",
)


class Statements:
    """Every hot-path statement, compiled for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.pg = pg = dialect.name == "postgresql"
        ins = postgresql.insert if pg else sqlite.insert

        def q(stmt: ClauseElement, keys: Sequence[str] | None = None) -> Sql:
            return Sql(stmt, dialect, keys)

        def upsert(table: Any, conflict: str, keys: Sequence[str]) -> Sql:
            stmt = ins(table)
            return q(
                stmt.on_conflict_do_update(
                    index_elements=[conflict],
                    set_={k: stmt.excluded[k] for k in keys if k != conflict},
                ),
                keys,
            )

        conversation = select(
            _C.c.id,
            _C.c.version,
            _C.c.status,
            _C.c.record_enc,
            _C.c.chat_enc.is_not(None),
            _C.c.last_update_id,
        ).where(_C.c.user_hash == bindparam("h"))
        self.select_conversation = q(conversation.with_for_update() if pg else conversation)
        self.select_processed = q(select(_PU.c.update_id).where(_PU.c.update_id == bindparam("u")))
        self.mark_update = q(ins(_PU).on_conflict_do_nothing(), ("update_id", "at"))
        self.insert_conversation = q(
            ins(_C).returning(_C.c.id),
            (
                *_CONVERSATION_KEYS,
                "user_hash",
                "chat_enc",
                "version",
                "last_update_id",
                "created_at",
            ),
        )
        self.update_conversation = q(
            update(_C)
            .where(_C.c.id == bindparam("b_id"), _C.c.version == bindparam("b_version"))
            .values(
                version=_C.c.version + 1,
                last_update_id=func.coalesce(
                    bindparam("b_update", type_=BigInteger), _C.c.last_update_id
                ),
            ),
            _CONVERSATION_KEYS,
        )
        self.set_chat = q(
            update(_C).where(_C.c.id == bindparam("b_id")).values(chat_enc=bindparam("b_chat"))
        )
        self.insert_answer = q(
            ins(_A), ("conversation_id", "fact", "value_enc", "raw_enc", "unit", "answered_at")
        )
        self.insert_outcome = q(
            ins(m.outcomes),
            (
                "conversation_id",
                "outcome",
                "failed",
                "unknown",
                "flow_id",
                "protocol_version",
                "decided_at",
            ),
        )
        self.insert_consent = q(
            ins(m.consents), ("conversation_id", "kind", "granted", "wording", "lang", "at")
        )
        self.upsert_contact = upsert(
            m.contacts, "conversation_id", ("conversation_id", *_CONTACT_KEYS)
        )
        self.insert_referral = q(
            ins(_R).on_conflict_do_nothing(index_elements=["ref_code"]).returning(_R.c.id),
            (
                "ref_code",
                "conversation_id",
                "outcome",
                "status",
                "attempts",
                "created_at",
                "updated_at",
            ),
        )
        self.insert_history = q(
            ins(m.referral_history), ("referral_id", "from_status", "to_status", "actor_hash", "at")
        )
        self.insert_outbox = q(
            ins(_O).on_conflict_do_nothing(index_elements=["dedupe_key"]),
            (
                "kind",
                "dedupe_key",
                "conversation_id",
                "payload_enc",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ),
        )
        self.upsert_alerts = upsert(
            m.alert_optins, "conversation_id", ("conversation_id", "topic", "lang", "at")
        )
        cid: Any = bindparam("cid")
        self.delete_alerts = q(
            delete(m.alert_optins).where(m.alert_optins.c.conversation_id == cid)
        )
        self.insert_audit = q(ins(m.audit_log), ("at", "actor_hash", "action", "subject", "detail"))
        # Erasure of one conversation.
        self.select_cards = q(
            select(_R.c.ref_code, _R.c.card_message_id).where(_R.c.conversation_id == cid)
        )
        audit = m.audit_log
        self.scrub_audit = q(
            update(audit).where(audit.c.subject == bindparam("ref")).values(subject=None)
        )
        self.delete_outbox_key = q(delete(_O).where(_O.c.dedupe_key == bindparam("key")))
        history = m.referral_history
        self.erase = [
            (
                "referral_status_history",
                q(
                    delete(history).where(
                        history.c.referral_id.in_(
                            select(_R.c.id).where(_R.c.conversation_id == cid)
                        )
                    )
                ),
            ),
            *(
                (name, q(delete(t).where(t.c.conversation_id == cid)))
                for name, t in m.CONVERSATION_CHILDREN
            ),
            ("conversations", q(delete(_C).where(_C.c.id == cid))),
        ]


# --------------------------------------------------------------------------- drivers


def sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite (naive UTC text, microseconds always shown)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Driver(Protocol):
    def time(self, value: datetime) -> Any: ...

    async def row(self, q: Sql, params: Mapping[str, Any]) -> Any: ...

    async def rows(self, q: Sql, params: Mapping[str, Any]) -> list[Any]: ...

    async def count(self, q: Sql, params: Mapping[str, Any]) -> int: ...

    async def many(self, q: Sql, params: Sequence[Mapping[str, Any]]) -> None: ...


class SqliteDriver:
    """sqlite3, run inline: these coroutines never suspend, so a transaction cannot be
    interleaved with another task's."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def time(self, value: datetime) -> Any:
        return sqlite_time(value)

    async def row(self, q: Sql, params: Mapping[str, Any]) -> Any:
        return self.conn.execute(q.sql, q.args(params)).fetchone()

    async def rows(self, q: Sql, params: Mapping[str, Any]) -> list[Any]:
        return self.conn.execute(q.sql, q.args(params)).fetchall()

    async def count(self, q: Sql, params: Mapping[str, Any]) -> int:
        return self.conn.execute(q.sql, q.args(params)).rowcount

    async def many(self, q: Sql, params: Sequence[Mapping[str, Any]]) -> None:
        self.conn.executemany(q.sql, [q.args(p) for p in params])


class PgDriver:
    """asyncpg; one round trip per call (``many`` sends its rows in one pipeline)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def time(self, value: datetime) -> Any:
        return value

    async def row(self, q: Sql, params: Mapping[str, Any]) -> Any:
        return await self.conn.fetchrow(q.sql, *q.args(params))

    async def rows(self, q: Sql, params: Mapping[str, Any]) -> list[Any]:
        return list(await self.conn.fetch(q.sql, *q.args(params)))

    async def count(self, q: Sql, params: Mapping[str, Any]) -> int:
        status: str = await self.conn.execute(q.sql, *q.args(params))
        return int(status.rsplit(" ", 1)[-1])

    async def many(self, q: Sql, params: Sequence[Mapping[str, Any]]) -> None:
        await self.conn.executemany(q.sql, [q.args(p) for p in params])


# --------------------------------------------------------------------------- load and flush


def lock_key(user_hash: str) -> int:
    """A signed 64-bit advisory lock key from a keyed hash."""
    return int.from_bytes(bytes.fromhex(user_hash[:16]), "big", signed=True)


def pg_begin(user_hash: str, update_id: int | None, at: datetime) -> str:
    """PostgreSQL's first round trip of a turn, as one simple-protocol batch: begin, take the
    conversation's advisory lock, mark the update processed. The status of the last statement
    ("INSERT 0 1" / "INSERT 0 0") says whether the update is new. Only integers and a time
    made here are written into the text.

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


async def load(drv: Driver, s: Statements, crypto: Crypto, user_hash: str) -> Loaded:
    """Read the conversation (``FOR UPDATE`` on PostgreSQL)."""
    row = await drv.row(s.select_conversation, {"h": user_hash})
    if row is None:
        return Loaded(duplicate=False)
    return Loaded(
        duplicate=False,
        conversation_id=row[0],
        version=row[1],
        status=row[2],
        record=json.loads(crypto.decrypt(row[3])),
        has_chat=bool(row[4]),
        last_update_id=row[5],
    )


async def flush(
    drv: Driver, s: Statements, crypto: Crypto, turn: Turn, now: datetime, *, mark: bool
) -> None:
    """Write everything the turn buffered (inside the caller's transaction)."""
    t = drv.time(now)
    marking = {"update_id": turn.update_id, "at": t}
    if mark and turn.update_id is not None and await drv.count(s.mark_update, marking) != 1:
        raise ConcurrentTurnError("the update was processed by another process meanwhile")
    loaded = turn._loaded
    cid = loaded.conversation_id
    if turn._erase:
        turn.erasure = await erase(drv, s, crypto, cid, t, actor_hash=turn._erase_actor)
        return
    saved = turn._save
    if saved is not None:
        values: dict[str, Any] = {
            "record_enc": crypto.encrypt(saved.record_json),
            "status": saved.status,
            "lang": saved.lang,
            "source": saved.source,
            "flow_id": saved.flow_id,
            "flow_version": saved.flow_version,
            "updated_at": t,
        }
        if cid is None:
            chat = turn._chat_id
            values.update(
                user_hash=turn.user_hash,
                chat_enc=None if chat is None else crypto.encrypt(str(chat)),
                version=1,
                last_update_id=turn.update_id,
                created_at=t,
            )
            try:
                cid = (await drv.row(s.insert_conversation, values))[0]
            except sqlite3.IntegrityError:  # another process created it (SQLite only)
                raise ConcurrentTurnError(
                    "the conversation was created by another process meanwhile"
                ) from None
        else:
            values.update(b_id=cid, b_version=loaded.version, b_update=turn.update_id)
            if await drv.count(s.update_conversation, values) != 1:
                raise ConcurrentTurnError("the conversation was changed by another process")
            if turn._chat_id is not None and not loaded.has_chat:
                chat_enc = crypto.encrypt(str(turn._chat_id))
                await drv.count(s.set_chat, {"b_id": cid, "b_chat": chat_enc})
    if cid is None:
        if turn.has_children():
            raise RuntimeError("save() a new conversation before adding anything to it")
        return
    if turn._answers:
        await drv.many(
            s.insert_answer,
            [
                {
                    "conversation_id": cid,
                    "fact": a["fact"],
                    "value_enc": crypto.encrypt(a["value"]),
                    "raw_enc": crypto.encrypt(a["raw"]) if a["raw"] else None,
                    "unit": a["unit"],
                    "answered_at": t if a["at"] is None else drv.time(a["at"]),
                }
                for a in turn._answers
            ],
        )
    if turn._outcomes:
        rows = [{**o, "conversation_id": cid, "decided_at": t} for o in turn._outcomes]
        await drv.many(s.insert_outcome, rows)
    if turn._consents:
        rows = [{**c, "conversation_id": cid, "at": t} for c in turn._consents]
        await drv.many(s.insert_consent, rows)
    if turn._contact is not None:
        contact = turn._contact
        enc = crypto.encrypt_opt
        await drv.count(
            s.upsert_contact,
            {
                "conversation_id": cid,
                "name_enc": enc(contact["name"]),
                "phone_enc": enc(contact["phone"]),
                "email_enc": enc(contact["email"]),
                "username_enc": enc(contact["username"]),
                "best_time_enc": enc(contact["best_time"]),
                "call_lang": contact["call_lang"],
                "updated_at": t,
            },
        )
    for ref in turn._referrals:
        row = await drv.row(
            s.insert_referral,
            {
                "ref_code": ref["ref_code"],
                "conversation_id": cid,
                "outcome": ref["outcome"],
                "status": "new",
                "attempts": 0,
                "created_at": t,
                "updated_at": t,
            },
        )
        if row is None:
            # About one chance in 10**12 per referral; processing the update again fixes it.
            raise StorageError("a new reference code collided with an existing one; retry")
        await drv.count(
            s.insert_history,
            {
                "referral_id": row[0],
                "from_status": None,
                "to_status": "new",
                "actor_hash": None,
                "at": t,
            },
        )
    if turn._outbox:
        await drv.many(
            s.insert_outbox,
            [
                {
                    "kind": o["kind"],
                    "dedupe_key": o["dedupe_key"],
                    "conversation_id": cid,
                    "payload_enc": crypto.encrypt(dumps(o["payload"])),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": t,
                    "created_at": t,
                }
                for o in turn._outbox
            ],
        )
    alerts = turn._alerts
    if isinstance(alerts, tuple):
        values = {"conversation_id": cid, "topic": alerts[0], "lang": alerts[1], "at": t}
        await drv.count(s.upsert_alerts, values)
    elif alerts is None:
        await drv.count(s.delete_alerts, {"cid": cid})


async def erase(
    drv: Driver,
    s: Statements,
    crypto: Crypto,
    cid: int | None,
    t: Any,
    *,
    actor_hash: str | None,
) -> Erasure:
    """Delete one conversation and everything that hangs off it, and leave an audit line
    saying only that an erasure happened and how many rows it removed: nothing in it points
    back to the person, not even their keyed hash.

    In the same transaction each team-chat card already posted gets an outbox item that
    edits it down to its reference code (it survives restarts and Telegram faults), and
    earlier audit lines lose the reference code they named."""
    counts = {name: 0 for name, _q in s.erase}
    cards: list[tuple[str, int | None]] = []
    if cid is not None:
        cards = [(r[0], r[1]) for r in await drv.rows(s.select_cards, {"cid": cid})]
        for name, q in s.erase:
            counts[name] = await drv.count(q, {"cid": cid})
        redactions = [
            retention.redaction_row(ref, mid, "erased", t, crypto.encrypt)
            for ref, mid in cards
            if mid is not None
        ]
        if redactions:
            await drv.many(s.insert_outbox, redactions)
        for ref, _mid in cards:
            await drv.count(s.scrub_audit, {"ref": ref})
            for key in retention.referral_keys(ref):
                await drv.count(s.delete_outbox_key, {"key": key})
    detail = {"by": "coordinator" if actor_hash else "self", "rows": counts}
    await drv.count(
        s.insert_audit,
        {
            "at": t,
            "actor_hash": actor_hash,
            "action": "erase_person",
            "subject": None,
            "detail": dumps(detail),
        },
    )
    return Erasure(counts, cards)
