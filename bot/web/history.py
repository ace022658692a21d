"""A referral's status history, and who made each change (console names; hashes otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from bot.storage import models as m
from bot.storage.store import Store
from bot.web.accounts import actor_key
from bot.web.tables import users


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    old: str | None
    new: str
    actor_hash: str | None


async def status_history(store: Store, ref_code: str) -> list[Step]:
    """The changes of a referral's status, oldest first."""
    h, r = m.referral_history, m.referrals
    stmt = (
        select(h.c.at, h.c.from_status, h.c.to_status, h.c.actor_hash)
        .join(r, r.c.id == h.c.referral_id)
        .where(r.c.ref_code == ref_code)
        .order_by(h.c.id)
    )
    rows = await store.execute(lambda c: c.execute(stmt).all(), write=False)
    return [Step(*row) for row in rows]


async def console_names(store: Store) -> dict[str, str]:
    """Console account names by the actor hash the store records for them."""

    def run(conn: Connection) -> list[str]:
        return list(conn.execute(select(users.c.name)).scalars())

    names = await store.execute(run, write=False)
    return {store.user_hash(actor_key(name)): name for name in names}
