"""Statistics: how far each conversation got, from statuses, consents and outcomes only."""

from __future__ import annotations

from sqlalchemy import Connection, select

from bot.storage import models as m
from bot.storage.database import Database
from bot.storage.views import FunnelRow

_C = m.conversations


async def funnel(database: Database) -> list[FunnelRow]:
    """One row per conversation: how far it got (for ``/stats``)."""
    return await database.run(_funnel, write=False)


def _funnel(conn: Connection) -> list[FunnelRow]:
    k, o, r = m.consents, m.outcomes, m.referrals
    consent: dict[int, bool] = {}
    for cid, granted in conn.execute(
        select(k.c.conversation_id, k.c.granted)
        .where(k.c.kind == "health_processing")
        .order_by(k.c.id)
    ):
        consent[cid] = bool(granted)
    latest = select(o.c.conversation_id, o.c.outcome).order_by(o.c.id)
    outcome = {row[0]: row[1] for row in conn.execute(latest)}
    statuses = select(r.c.conversation_id, r.c.status).order_by(r.c.id)
    referral = {row[0]: row[1] for row in conn.execute(statuses)}
    return [
        FunnelRow(lang, source, status, consent.get(cid), outcome.get(cid), referral.get(cid))
        for cid, lang, source, status in conn.execute(
            select(_C.c.id, _C.c.lang, _C.c.source, _C.c.status).order_by(_C.c.id)
        )
    ]
