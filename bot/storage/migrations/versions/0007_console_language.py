"""Each console account's own language (NULL: the team's, ``TEAM_LANGUAGE``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``web_users.language``."""
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop ``web_users.language``."""
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("language")
