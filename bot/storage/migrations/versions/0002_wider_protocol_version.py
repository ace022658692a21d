"""Wider outcomes.protocol_version: a flow's protocol text can be longer than 32 characters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Allow 200 characters (SQLite does not enforce lengths; PostgreSQL does)."""
    with op.batch_alter_table("outcomes") as batch:
        batch.alter_column("protocol_version", type_=sa.String(200), existing_nullable=False)


def downgrade() -> None:
    """Go back to 32 characters."""
    with op.batch_alter_table("outcomes") as batch:
        batch.alter_column("protocol_version", type_=sa.String(32), existing_nullable=False)
