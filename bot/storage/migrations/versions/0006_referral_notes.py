"""Coordinators' notes on referrals (the web console), deleted with their referral.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``referral_notes``."""
    op.create_table(
        "referral_notes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("referral_id", BigId, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name="fk_referral_notes_referral_id_referrals",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_referral_notes"),
    )
    op.create_index("ix_referral_notes_referral_id", "referral_notes", ["referral_id"])


def downgrade() -> None:
    """Drop ``referral_notes``."""
    op.drop_table("referral_notes")
