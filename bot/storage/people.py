"""A person's rows outside a turn: where to write to them, and every answer they gave."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage import models as m
from bot.storage.database import Database
from bot.storage.views import AnswerView, answer_view

_C = m.conversations


class People:
    """Look-ups by channel user id (``"tg:12345"``), through its keyed hash."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def find_chat(self, user_key: str) -> int | None:
        """The chat to write to for this person, or None."""
        user_hash = self.db.crypto.lookup(user_key)
        stmt = select(_C.c.chat_enc).where(_C.c.user_hash == user_hash)
        token = await self.db.run(lambda c: c.execute(stmt).scalar_one_or_none(), write=False)
        return None if token is None else int(self.db.crypto.decrypt(token))

    async def answer_history(self, user_key: str) -> list[AnswerView]:
        """Every answer this person gave, oldest first (changed answers included)."""
        user_hash = self.db.crypto.lookup(user_key)
        a = m.answers
        stmt = (
            select(a.c.fact, a.c.value_enc, a.c.raw_enc, a.c.unit, a.c.answered_at)
            .join(_C, _C.c.id == a.c.conversation_id)
            .where(_C.c.user_hash == user_hash)
            .order_by(a.c.id)
        )
        rows = await self.db.run(lambda c: c.execute(stmt).all(), write=False)
        return [answer_view(self.db.crypto, r) for r in rows]
