"""Coordinators' notes on a referral (``referral_notes``): the text encrypted at rest, the
author a console account name; the rows go with their referral (erasure, purge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from bot.storage import models as m
from bot.storage.crypto import Crypto
from bot.storage.store import Store

MAX_NOTE = 2000  # characters


@dataclass(frozen=True, slots=True)
class Note:
    at: datetime
    author: str
    text: str


class Notes:
    """Add and list notes through the store's transaction runner."""

    def __init__(self, store: Store, crypto: Crypto) -> None:
        self.store = store
        self.crypto = crypto

    async def add(self, ref_code: str, author: str, text: str, at: datetime) -> bool:
        """Add a note; False when the referral does not exist (erased meanwhile)."""
        token = self.crypto.encrypt(text[:MAX_NOTE])
        r, n = m.referrals, m.referral_notes

        def run(conn: Connection) -> bool:
            found = conn.execute(select(r.c.id).where(r.c.ref_code == ref_code)).scalar()
            if found is None:
                return False
            row = {"referral_id": found, "author": author, "text_enc": token, "at": at}
            conn.execute(insert(n).values(**row))
            return True

        return await self.store.execute(run)

    async def of(self, ref_code: str) -> list[Note]:
        """A referral's notes, oldest first."""
        r, n = m.referrals, m.referral_notes
        stmt = (
            select(n.c.at, n.c.author, n.c.text_enc)
            .join(r, r.c.id == n.c.referral_id)
            .where(r.c.ref_code == ref_code)
            .order_by(n.c.id)
        )
        rows = await self.store.execute(lambda c: c.execute(stmt).all(), write=False)
        return [Note(at, author, self.crypto.decrypt(token)) for at, author, token in rows]
