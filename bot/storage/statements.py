"""The hot path's statements: SQLAlchemy Core, compiled once per dialect when the store opens.

They run directly on the driver connection (``sqlite3`` or asyncpg, see ``backends/``): per
statement that skips SQLAlchemy's execution machinery, which on these machines costs several
times the database work itself. ``Sql`` keeps the compiled text and its parameter order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, ClauseElement, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from bot.storage import models as m


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

    @classmethod
    def text(cls, sql: str, names: Sequence[str]) -> Sql:
        """A statement written out for one dialect, with its parameter order."""
        q = cls.__new__(cls)
        q.sql, q.names, q.fixed = sql, tuple(names), {}
        return q

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
        self.dialect = dialect
        self.pg = pg = dialect.name == "postgresql"
        self._ins = postgresql.insert if pg else sqlite.insert
        conversation = select(
            _C.c.id,
            _C.c.version,
            _C.c.status,
            _C.c.record_enc,
            _C.c.chat_enc.is_not(None),
        ).where(_C.c.user_hash == bindparam("h"))
        self.select_conversation = self._q(conversation)
        self.select_processed = self._q(
            select(_PU.c.update_id).where(_PU.c.update_id == bindparam("u"))
        )
        self.mark_update = self._q(self._ins(_PU).on_conflict_do_nothing(), ("update_id", "at"))
        self._conversation_writes()
        self._child_writes()
        self._handoff_writes()
        #: PostgreSQL only: a usual turn's writes, each in one statement (see below).
        self.save_with_answers = _PG_SAVE_WITH_ANSWERS if pg else None
        self.create_with_answers = _PG_CREATE_WITH_ANSWERS if pg else None

    def _q(self, stmt: ClauseElement, keys: Sequence[str] | None = None) -> Sql:
        return Sql(stmt, self.dialect, keys)

    def _upsert(self, table: Any, conflict: str, keys: Sequence[str]) -> Sql:
        stmt = self._ins(table)
        return self._q(
            stmt.on_conflict_do_update(
                index_elements=[conflict],
                set_={k: stmt.excluded[k] for k in keys if k != conflict},
            ),
            keys,
        )

    def _conversation_writes(self) -> None:
        self.insert_conversation = self._q(
            self._ins(_C).returning(_C.c.id),
            (
                *_CONVERSATION_KEYS,
                "user_hash",
                "chat_enc",
                "version",
                "last_update_id",
                "created_at",
            ),
        )
        self.update_conversation = self._q(
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
        self.set_chat = self._q(
            update(_C).where(_C.c.id == bindparam("b_id")).values(chat_enc=bindparam("b_chat"))
        )

    def _child_writes(self) -> None:
        self.insert_answer = self._q(
            self._ins(_A),
            ("conversation_id", "fact", "value_enc", "raw_enc", "unit", "answered_at"),
        )
        self.insert_outcome = self._q(
            self._ins(m.outcomes),
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
        self.insert_consent = self._q(
            self._ins(m.consents), ("conversation_id", "kind", "granted", "wording", "lang", "at")
        )
        self.upsert_contact = self._upsert(
            m.contacts, "conversation_id", ("conversation_id", *_CONTACT_KEYS)
        )
        self.upsert_alerts = self._upsert(
            m.alert_optins, "conversation_id", ("conversation_id", "topic", "lang", "at")
        )
        cid: Any = bindparam("cid")
        self.delete_alerts = self._q(
            delete(m.alert_optins).where(m.alert_optins.c.conversation_id == cid)
        )

    def _handoff_writes(self) -> None:
        self.insert_referral = self._q(
            self._ins(_R).on_conflict_do_nothing(index_elements=["ref_code"]).returning(_R.c.id),
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
        self.insert_history = self._q(
            self._ins(m.referral_history),
            ("referral_id", "from_status", "to_status", "actor_hash", "at"),
        )
        self.insert_outbox = self._q(
            self._ins(_O).on_conflict_do_nothing(index_elements=["dedupe_key"]),
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


_ANSWERS_FROM_ARRAYS = """answered AS (
    INSERT INTO answers (conversation_id, fact, value_enc, raw_enc, unit, answered_at)
    SELECT saved.id, a.fact, a.value_enc, a.raw_enc, a.unit, a.answered_at
    FROM saved, unnest({0}::varchar[], {1}::text[], {2}::text[], {3}::varchar[],
        {4}::timestamptz[]) WITH ORDINALITY AS a(fact, value_enc, raw_enc, unit, answered_at, n)
    ORDER BY a.n
)"""
_ANSWER_ARRAYS = ("facts", "values", "raws", "units", "times")

#: PostgreSQL: the usual turn's writes in one statement, so in one round trip that also
#: commits when the turn runs outside a transaction block: the conversation saved under its
#: version check (and its chat set if it had none), the update marked processed and the answers
#: added, the last two only when the conversation was saved. A plain INSERT marks the update:
#: if it was marked meanwhile, the statement fails as a whole and writes nothing. The count of
#: conversations saved comes back (0: changed meanwhile, nothing written).
_PG_SAVE_WITH_ANSWERS = Sql.text(
    """WITH saved AS (
    UPDATE conversations SET record_enc = $1, status = $2, lang = $3, source = $4,
        flow_id = $5, flow_version = $6, updated_at = $7, version = version + 1,
        last_update_id = COALESCE($8::bigint, last_update_id),
        chat_enc = COALESCE(chat_enc, $9::text)
    WHERE id = $10 AND version = $11
    RETURNING id
), marked AS (
    INSERT INTO processed_updates (update_id, at)
    SELECT $8::bigint, $7 FROM saved WHERE $8::bigint IS NOT NULL
), """
    + _ANSWERS_FROM_ARRAYS.format("$12", "$13", "$14", "$15", "$16")
    + """
SELECT count(*) FROM saved""",
    (
        *_CONVERSATION_KEYS,
        "b_update",
        "chat_enc",
        "b_id",
        "b_version",
        *_ANSWER_ARRAYS,
    ),
)

#: PostgreSQL: a new conversation's first turn in one statement: the conversation created, the
#: update marked processed, the answers added. Its id comes back.
_PG_CREATE_WITH_ANSWERS = Sql.text(
    """WITH saved AS (
    INSERT INTO conversations (record_enc, status, lang, source, flow_id, flow_version,
        updated_at, created_at, user_hash, chat_enc, version, last_update_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9::text, 1, $10::bigint)
    RETURNING id
), marked AS (
    INSERT INTO processed_updates (update_id, at)
    SELECT $10::bigint, $7 FROM saved WHERE $10::bigint IS NOT NULL
), """
    + _ANSWERS_FROM_ARRAYS.format("$11", "$12", "$13", "$14", "$15")
    + """
SELECT id FROM saved""",
    (
        *_CONVERSATION_KEYS,
        "user_hash",
        "chat_enc",
        "b_update",
        *_ANSWER_ARRAYS,
    ),
)
