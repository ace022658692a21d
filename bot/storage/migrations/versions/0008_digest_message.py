"""The team-chat CSV file that lists a referral (a burst's digest), so erasure can reach it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``referrals.digest_message_id``."""
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("digest_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop ``referrals.digest_message_id``."""
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("digest_message_id")
