"""Tables (SQLAlchemy 2 typed declarative). The migrations in ``migrations/versions`` create them.

Personal data never appears in plain text: columns ending in ``_enc`` hold Fernet tokens, and
people are found through ``user_hash`` (a keyed hash of the channel user id, see ``crypto.py``).
The engine's record and the patient's own words are encrypted as well, because they may hold
anything the patient typed, and so are answer values (option ids, numbers in canonical units):
an answer about HIV or pregnancy is health data even without a name. Statistics need none of
them (the funnel reads statuses, consents and outcomes).

All times are timezone-aware UTC (``UTCDateTime``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The referral workflow has its own module; these names stay importable from here.
from bot.workflow import ATTEMPTS_BEFORE_NOT_REACHABLE as ATTEMPTS_BEFORE_NOT_REACHABLE
from bot.workflow import NEXT_STATUSES as NEXT_STATUSES
from bot.workflow import OPEN_REFERRAL_STATUSES as OPEN_REFERRAL_STATUSES
from bot.workflow import REFERRAL_STATUSES as REFERRAL_STATUSES
from bot.workflow import next_statuses as next_statuses

CONVERSATION_STATUSES = ("active", "finished", "abandoned")
OUTBOX_STATUSES = ("pending", "sent", "failed")
WEB_ROLES = ("coordinator", "viewer")

#: An integer primary key that is SQLite's rowid there and a BIGINT on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps them as naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


def _conversation_fk() -> Any:
    return ForeignKey("conversations.id", ondelete="CASCADE")


class Meta(Base):
    """Key check of DATA_ENCRYPTION_KEY and other facts about the database itself."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Conversation(Base):
    """One person's screening: the engine's record and what it is about."""

    __tablename__ = "conversations"
    __table_args__ = (
        # No index on (status, updated_at): every turn changes updated_at, and an index would
        # cost page writes on every turn to speed up one daily purge scan.
        CheckConstraint(_in("status", CONVERSATION_STATUSES), name="status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_hash: Mapped[str] = mapped_column(String(64), unique=True)
    chat_enc: Mapped[str | None] = mapped_column(Text)  # where replies go, encrypted
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    record_enc: Mapped[str] = mapped_column(Text)  # Conversation.to_json(), encrypted
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every save
    last_update_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AnswerRow(Base):
    """Every answer given, with its time; a changed answer is a new row (history)."""

    __tablename__ = "answers"
    __table_args__ = (Index(None, "conversation_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, _conversation_fk())
    fact: Mapped[str] = mapped_column(String(64))
    # option id, "unknown", or a canonical decimal: encrypted (it may say HIV, pregnancy, ...)
    value_enc: Mapped[str] = mapped_column(Text)
    raw_enc: Mapped[str | None] = mapped_column(Text)  # the patient's own words, encrypted
    unit: Mapped[str] = mapped_column(String(16), default="")
    answered_at: Mapped[datetime]


class Outcome(Base):
    __tablename__ = "outcomes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, _conversation_fk(), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    failed: Mapped[list[str]]
    unknown: Mapped[list[str]]
    flow_id: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime]


class Consent(Base):
    """What the person agreed to (or declined), when, and the exact words they were shown."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, _conversation_fk(), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # health_processing, share_contact, ...
    granted: Mapped[bool] = mapped_column(Boolean)
    wording: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class Contact(Base):
    """Contact details for the study team; everything the person typed is encrypted."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, _conversation_fk(), unique=True)
    name_enc: Mapped[str | None] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    email_enc: Mapped[str | None] = mapped_column(Text)
    username_enc: Mapped[str | None] = mapped_column(Text)
    best_time_enc: Mapped[str | None] = mapped_column(Text)
    call_lang: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (CheckConstraint(_in("status", REFERRAL_STATUSES), name="status"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref_code: Mapped[str] = mapped_column(String(16), unique=True)
    conversation_id: Mapped[int] = mapped_column(BigId, _conversation_fk(), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), default="new")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    #: The team-chat CSV file of a burst's digest that lists this referral (it has no card).
    digest_message_id: Mapped[int | None] = mapped_column(BigInteger)


class ReferralStatusChange(Base):
    __tablename__ = "referral_status_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_hash: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]


class AlertOptin(Base):
    """Consent to hear about other diabetes trials (its consent row is in ``consents``)."""

    __tablename__ = "alert_optins"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, _conversation_fk(), unique=True)
    topic: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class AuditEntry(Base):
    """Coordinator actions, erasures and purges. ``detail`` never holds personal data."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_hash: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]]


class OutboxRow(Base):
    """A message to deliver at least once; ``dedupe_key`` (e.g. the reference code) is unique."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index(None, "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(BigId, _conversation_fk(), index=True)
    payload_enc: Mapped[str | None] = mapped_column(Text)  # cleared once sent
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


class ProcessedUpdate(Base):
    """Channel update ids already handled (updates arrive at least once).

    On SQLite ``update_id`` is the rowid itself, so marking an update touches one B-tree; the
    daily purge of old rows scans this small table rather than indexing ``at`` on every turn.
    """

    __tablename__ = "processed_updates"
    update_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime]


class WebUser(Base):
    """A web console account (``bot/web``); the password only as its argon2 hash."""

    __tablename__ = "web_users"
    __table_args__ = (CheckConstraint(_in("role", WEB_ROLES), name="role"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change: Mapped[bool] = mapped_column(Boolean)
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(Boolean)
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(16))  # None: TEAM_LANGUAGE (0007)


class WebSession(Base):
    """A signed-in console session, found by the SHA-256 of its cookie's token."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("web_users.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ReferralNote(Base):
    """A coordinator's note on a referral (``bot/storage/notes.py``); the text encrypted.
    Deleted with the referral (erasure, purge) by the foreign key's cascade."""

    __tablename__ = "referral_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(64))  # the console account's name
    text_enc: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class InboxRow(Base):
    """Channel updates received and kept until handled (durable receipt, issue #16).

    A batch is written in one transaction before Telegram is told (by the next getUpdates
    offset) that it arrived; ``done_at`` is set once the update's turn committed and its
    replies went out. The update itself (``payload_enc``, encrypted: it holds what the person
    wrote) is emptied then; done rows are kept a little while to recognise re-deliveries.
    """

    __tablename__ = "inbox"
    update_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    payload_enc: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


meta = _table(Meta)
conversations = _table(Conversation)
answers = _table(AnswerRow)
outcomes = _table(Outcome)
consents = _table(Consent)
contacts = _table(Contact)
referrals = _table(Referral)
referral_history = _table(ReferralStatusChange)
alert_optins = _table(AlertOptin)
audit_log = _table(AuditEntry)
outbox = _table(OutboxRow)
processed_updates = _table(ProcessedUpdate)
web_users = _table(WebUser)
web_sessions = _table(WebSession)
inbox = _table(InboxRow)
referral_notes = _table(ReferralNote)

#: The tables holding a conversation's rows (by ``conversation_id``), in the order they are
#: emptied when the conversation is erased or purged (a referral's status history goes
#: first, by referral id).
CONVERSATION_CHILDREN: tuple[tuple[str, Table], ...] = (
    ("referrals", referrals),
    ("outbox", outbox),
    ("alert_optins", alert_optins),
    ("contacts", contacts),
    ("consents", consents),
    ("outcomes", outcomes),
    ("answers", answers),
)
