"""Initial schema: conversations, answers, outcomes, consents, contacts, referrals, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.schema import SchemaItem

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, nullable=False)


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _conversation(table: str, *, nullable: bool = False) -> list[SchemaItem]:
    return [
        sa.Column("conversation_id", ID, nullable=nullable),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=f"fk_{table}_conversation_id_conversations",
            ondelete="CASCADE",
        ),
    ]


def _status_check(table: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"status IN ({listed})", name=f"ck_{table}_status")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.create_table(
        "conversations",
        _id(),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("chat_enc", sa.Text(), nullable=True),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("flow_version", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("record_enc", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_update_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        _status_check("conversations", ("active", "finished", "abandoned")),
        _pk("conversations"),
        sa.UniqueConstraint("user_hash", name="uq_conversations_user_hash"),
    )
    op.create_table(
        "answers",
        _id(),
        *_conversation("answers"),
        sa.Column("fact", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("raw_enc", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("answered_at", TIME, nullable=False),
        _pk("answers"),
    )
    op.create_index("ix_answers_conversation_id_id", "answers", ["conversation_id", "id"])
    op.create_table(
        "outcomes",
        _id(),
        *_conversation("outcomes"),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("failed", sa.JSON(), nullable=False),
        sa.Column("unknown", sa.JSON(), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("protocol_version", sa.String(32), nullable=False),
        sa.Column("decided_at", TIME, nullable=False),
        _pk("outcomes"),
    )
    op.create_index("ix_outcomes_conversation_id", "outcomes", ["conversation_id"])
    op.create_table(
        "consents",
        _id(),
        *_conversation("consents"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("at", TIME, nullable=False),
        _pk("consents"),
    )
    op.create_index("ix_consents_conversation_id", "consents", ["conversation_id"])
    op.create_table(
        "contacts",
        _id(),
        *_conversation("contacts"),
        sa.Column("name_enc", sa.Text(), nullable=True),
        sa.Column("phone_enc", sa.Text(), nullable=True),
        sa.Column("email_enc", sa.Text(), nullable=True),
        sa.Column("username_enc", sa.Text(), nullable=True),
        sa.Column("best_time_enc", sa.Text(), nullable=True),
        sa.Column("call_lang", sa.String(16), nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        _pk("contacts"),
        sa.UniqueConstraint("conversation_id", name="uq_contacts_conversation_id"),
    )
    op.create_table(
        "referrals",
        _id(),
        sa.Column("ref_code", sa.String(16), nullable=False),
        *_conversation("referrals"),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("acknowledged_at", TIME, nullable=True),
        sa.Column("reminded_at", TIME, nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        _status_check(
            "referrals",
            ("new", "contacted", "visit_scheduled", "enrolled", "screen_failed", "not_reachable"),
        ),
        _pk("referrals"),
        sa.UniqueConstraint("ref_code", name="uq_referrals_ref_code"),
    )
    op.create_index("ix_referrals_conversation_id", "referrals", ["conversation_id"])
    op.create_table(
        "referral_status_history",
        _id(),
        sa.Column("referral_id", ID, nullable=False),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("actor_hash", sa.String(64), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name="fk_referral_status_history_referral_id_referrals",
            ondelete="CASCADE",
        ),
        _pk("referral_status_history"),
    )
    op.create_index(
        "ix_referral_status_history_referral_id", "referral_status_history", ["referral_id"]
    )
    op.create_table(
        "alert_optins",
        _id(),
        *_conversation("alert_optins"),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("at", TIME, nullable=False),
        _pk("alert_optins"),
        sa.UniqueConstraint("conversation_id", name="uq_alert_optins_conversation_id"),
    )
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor_hash", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        _pk("audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "outbox",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        *_conversation("outbox", nullable=True),
        sa.Column("payload_enc", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        _status_check("outbox", ("pending", "sent", "failed")),
        _pk("outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )
    op.create_index("ix_outbox_conversation_id", "outbox", ["conversation_id"])
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "processed_updates",
        sa.Column("update_id", ID, autoincrement=False, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_processed_updates"),
    )


def downgrade() -> None:
    for table in (
        "processed_updates",
        "outbox",
        "audit_log",
        "alert_optins",
        "referral_status_history",
        "referrals",
        "contacts",
        "consents",
        "outcomes",
        "answers",
        "conversations",
        "meta",
    ):
        op.drop_table(table)
