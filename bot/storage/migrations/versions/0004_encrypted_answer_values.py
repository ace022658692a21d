"""Answer values encrypted at rest: answers.value (plain) becomes answers.value_enc (Fernet).

Existing values are encrypted with DATA_ENCRYPTION_KEYS, which ``python -m bot db upgrade`` and
the bot's start-up hand to the migration (``config.attributes["crypto"]``). A database with
answers and no key, or a key it was never used with, is refused and left as it was.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from bot.storage.crypto import Crypto
from bot.storage.errors import MissingKeyError, WrongKeyError

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 1000


def _convert(source: str, target: str, change: Callable[[str], str]) -> None:
    answers = sa.table("answers", sa.column("id"), sa.column(source), sa.column(target))
    conn = op.get_bind()
    after = 0
    while True:
        rows = conn.execute(
            sa.select(answers.c.id, answers.c[source])
            .where(answers.c.id > after)
            .order_by(answers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            sa.update(answers)
            .where(answers.c.id == sa.bindparam("b_id"))
            .values({target: sa.bindparam("b_value")}),
            [{"b_id": r[0], "b_value": change(r[1])} for r in rows],
        )
        after = rows[-1][0]


def _crypto(action: str) -> Crypto:
    """The configured keys, checked against the database's key check."""
    config = op.get_context().config
    crypto = None if config is None else config.attributes.get("crypto")
    if not isinstance(crypto, Crypto):
        raise MissingKeyError(
            f"The database holds answers to {action}, so the migration needs "
            "DATA_ENCRYPTION_KEYS. Set it and run `python -m bot db upgrade` again."
        )
    meta = sa.table("meta", sa.column("key"), sa.column("value"))
    check = (
        op.get_bind()
        .execute(sa.select(meta.c.value).where(meta.c.key == "key_check"))
        .scalar_one_or_none()
    )
    if check is not None and crypto.key_for_check(check) is None:
        raise WrongKeyError(
            "DATA_ENCRYPTION_KEYS holds none of the keys this database was used with; "
            "the answers were not encrypted. Nothing was changed."
        )
    return crypto


def _has_answers() -> bool:
    return op.get_bind().execute(sa.text("SELECT 1 FROM answers LIMIT 1")).first() is not None


def upgrade() -> None:
    """Add value_enc, encrypt every value into it, drop value."""
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("value_enc", sa.Text(), nullable=True))
    if _has_answers():
        crypto = _crypto("encrypt")
        _convert("value", "value_enc", crypto.encrypt)
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("value")
        batch.alter_column("value_enc", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    """Decrypt the values back into a plain value column."""
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("value", sa.Text(), nullable=True))
    if _has_answers():
        crypto = _crypto("decrypt")
        _convert("value_enc", "value", crypto.decrypt)
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("value_enc")
        batch.alter_column("value", existing_type=sa.Text(), nullable=False)
