"""Retention: what is deleted, and when.

* ``purge_rows`` (``python -m bot purge``, and daily in the running bot through
  ``purge_daily``) deletes
  - conversations abandoned, or left active, and untouched for RETENTION_DAYS, unless they led
    to a referral (the study team needs those);
  - optionally (``finished_days``) finished conversations untouched that long whose referral,
    if any, is closed;
  - processed update ids older than two days (Telegram re-delivers for at most a day);
  - outbox items delivered or given up more than RETENTION_DAYS ago (a delivered item's
    payload is already dropped when it is sent).
* ``delete_conversations`` removes conversations with every row that hangs off them; the
  erasure of one person uses it too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, delete, func, select

from bot.storage import models as m

if TYPE_CHECKING:
    from bot.storage.store import Store

log = logging.getLogger("bot.storage")

PROCESSED_UPDATES_KEEP = timedelta(days=2)
_CHUNK = 500

_C, _R, _O = m.conversations, m.referrals, m.outbox
COUNTED = (
    "conversations",
    "answers",
    "outcomes",
    "consents",
    "contacts",
    "referrals",
    "referral_status_history",
    "alert_optins",
    "outbox",
)


def delete_conversations(
    conn: Connection, ids: Select[Any]
) -> tuple[dict[str, int], list[tuple[str, int | None]]]:
    """Delete the conversations ``ids`` selects and every row that hangs off them.

    Returns row counts per table and the (reference code, card message id) of each referral
    removed, so the team-chat cards can be updated. Children are deleted explicitly (not only
    by ON DELETE CASCADE) so the counts are exact on both databases.
    """
    cids = list(conn.execute(ids).scalars())
    counts = dict.fromkeys(COUNTED, 0)
    cards: list[tuple[str, int | None]] = []
    for start in range(0, len(cids), _CHUNK):
        chunk = cids[start : start + _CHUNK]
        refs = conn.execute(
            select(_R.c.id, _R.c.ref_code, _R.c.card_message_id).where(
                _R.c.conversation_id.in_(chunk)
            )
        ).all()
        cards.extend((r.ref_code, r.card_message_id) for r in refs)
        if refs:
            history = m.referral_history
            counts["referral_status_history"] += conn.execute(
                delete(history).where(history.c.referral_id.in_([r.id for r in refs]))
            ).rowcount
        for name, table in m.CONVERSATION_CHILDREN:
            counts[name] += conn.execute(
                delete(table).where(table.c.conversation_id.in_(chunk))
            ).rowcount
        counts["conversations"] += conn.execute(delete(_C).where(_C.c.id.in_(chunk))).rowcount
    return counts, cards


def purge_rows(
    conn: Connection, at: datetime, retention_days: int, finished_days: int | None = None
) -> dict[str, int]:
    """Delete everything past retention at time ``at`` (see the module docstring)."""
    cutoff = at - timedelta(days=retention_days)
    has_referral = select(_R.c.id).where(_R.c.conversation_id == _C.c.id).exists()
    idle = select(_C.c.id).where(
        _C.c.status.in_(["abandoned", "active"]),
        _C.c.updated_at < cutoff,
        ~has_referral,
    )
    counts, _cards = delete_conversations(conn, idle)
    if finished_days is not None:
        open_referral = (
            select(_R.c.id)
            .where(_R.c.conversation_id == _C.c.id, _R.c.status.in_(m.OPEN_REFERRAL_STATUSES))
            .exists()
        )
        finished = select(_C.c.id).where(
            _C.c.status == "finished",
            _C.c.updated_at < at - timedelta(days=finished_days),
            ~open_referral,
        )
        more, _cards = delete_conversations(conn, finished)
        for name, n in more.items():
            counts[name] += n
    pu = m.processed_updates
    counts["processed_updates"] = conn.execute(
        delete(pu).where(pu.c.at < at - PROCESSED_UPDATES_KEEP)
    ).rowcount
    counts["outbox"] += conn.execute(
        delete(_O).where(
            _O.c.status.in_(["sent", "failed"]),
            func.coalesce(_O.c.sent_at, _O.c.next_attempt_at) < cutoff,
        )
    ).rowcount
    return counts


async def purge_daily(
    store: Store,
    retention_days: int,
    *,
    every: timedelta = timedelta(days=1),
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Run ``store.purge`` now and then every ``every``, until cancelled (a background task
    of the running bot: ``asyncio.create_task(purge_daily(store, settings.retention_days))``)."""
    while True:
        try:
            await store.purge(retention_days=retention_days)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep the bot running; the next day tries again
            log.exception("daily purge failed")
            if on_error is not None:
                on_error(exc)
        await asyncio.sleep(every.total_seconds())
