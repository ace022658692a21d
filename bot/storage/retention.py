"""Retention: what is deleted, and when.

* ``purge_rows`` (``python -m bot purge``, and daily in the running bot through
  ``purge_daily``; the periods come from the settings through ``Retention.from_settings``)
  deletes
  - conversations abandoned, or left active, and untouched for RETENTION_DAYS, unless they led
    to a referral (the study team needs those);
  - finished screenings that did not become a referral (ineligible, declined) untouched for
    FINISHED_RETENTION_DAYS (unset: RETENTION_DAYS);
  - conversations with a referral whose referral has not changed for REFERRAL_RETENTION_DAYS
    (unset: kept until the team erases them); their team-chat cards are redacted through the
    outbox, like an erased person's;
  - processed update ids older than two days (Telegram re-delivers for at most a day);
  - outbox items delivered or given up more than RETENTION_DAYS ago (a delivered item's
    payload is already dropped when it is sent).
* Conversations are deleted with every row that hangs off them by
  ``erasure.delete_conversations``, the one path the erasure of a person takes too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, select

from bot.storage import models as m
from bot.storage.audit import write_audit
from bot.storage.erasure import CARD_REDACTION, delete_conversations

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.storage.database import Database
    from bot.storage.store import Store

log = logging.getLogger("bot.storage")

PROCESSED_UPDATES_KEEP = timedelta(days=2)
_C, _R, _O = m.conversations, m.referrals, m.outbox

__all__ = ["CARD_REDACTION", "Retention", "purge", "purge_daily", "purge_rows"]


@dataclass(frozen=True)
class Retention:
    """How long each kind of conversation is kept, in days (None: until erased)."""

    days: int = 30  # abandoned, or left active
    finished_days: int | None = None  # finished without a referral; None: ``days``
    referral_days: int | None = None  # led to a referral; None: kept

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        """RETENTION_DAYS, FINISHED_RETENTION_DAYS and REFERRAL_RETENTION_DAYS."""
        return cls(
            settings.retention_days,
            settings.finished_retention_days,
            settings.referral_retention_days,
        )


def purge_rows(
    conn: Connection, at: datetime, keep: Retention, encrypt: Callable[[str], str]
) -> dict[str, int]:
    """Delete everything past retention at time ``at`` (see the module docstring)."""
    cutoff = at - timedelta(days=keep.days)
    has_referral = select(_R.c.id).where(_R.c.conversation_id == _C.c.id).exists()
    idle = select(_C.c.id).where(
        _C.c.status.in_(["abandoned", "active"]),
        _C.c.updated_at < cutoff,
        ~has_referral,
    )
    counts = delete_conversations(conn, idle, "expired", at, encrypt).counts
    finished_cutoff = at - timedelta(days=keep.finished_days or keep.days)
    finished = select(_C.c.id).where(
        _C.c.status == "finished", _C.c.updated_at < finished_cutoff, ~has_referral
    )
    _add(counts, delete_conversations(conn, finished, "expired", at, encrypt).counts)
    if keep.referral_days is not None:
        recent = (
            select(_R.c.id)
            .where(
                _R.c.conversation_id == _C.c.id,
                _R.c.updated_at >= at - timedelta(days=keep.referral_days),
            )
            .exists()
        )
        expired = select(_C.c.id).where(has_referral, ~recent)
        _add(counts, delete_conversations(conn, expired, "expired", at, encrypt).counts)
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


async def purge(
    database: Database,
    now: datetime | None = None,
    keep: Retention = Retention(),
) -> dict[str, int]:
    """Delete what is past retention and leave an audit line; returns row counts per table."""
    periods = (keep.days, keep.finished_days, keep.referral_days)
    if min(d for d in (*periods, 1) if d is not None) < 1:
        raise ValueError("retention periods must be at least 1 day")

    def run(conn: Connection) -> dict[str, int]:
        at = now or database.now()
        counts = purge_rows(conn, at, keep, database.crypto.encrypt)
        detail = {
            "retention_days": keep.days,
            "finished_days": keep.finished_days,
            "referral_days": keep.referral_days,
            "rows": counts,
        }
        write_audit(conn, at, None, "purge", None, detail)
        return counts

    counts = await database.run(run)
    log.info("purge removed %d conversations", counts["conversations"])
    return counts


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for name, n in more.items():
        counts[name] += n


async def purge_daily(
    store: Store,
    keep: Retention | int,
    *,
    every: timedelta = timedelta(days=1),
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Run ``store.purge`` now and then every ``every``, until cancelled (a background task of
    the running bot: ``create_task(purge_daily(store, Retention.from_settings(settings)))``;
    a number means RETENTION_DAYS alone)."""
    keep = Retention(keep) if isinstance(keep, int) else keep
    while True:
        try:
            await store.purge(
                retention_days=keep.days,
                finished_days=keep.finished_days,
                referral_days=keep.referral_days,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep the bot running; the next day tries again
            log.exception("daily purge failed")
            if on_error is not None:
                on_error(exc)
        await asyncio.sleep(every.total_seconds())
