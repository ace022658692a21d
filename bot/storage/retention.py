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
* ``delete_conversations`` removes conversations with every row that hangs off them; the
  erasure of one person uses it too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, delete, func, insert, select

from bot.storage import models as m

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.storage.store import Store

log = logging.getLogger("bot.storage")

PROCESSED_UPDATES_KEEP = timedelta(days=2)
_CHUNK = 500

_C, _R, _O = m.conversations, m.referrals, m.outbox

#: The outbox kind that redacts a team-chat card (``bot.team.CARD_REDACTION``).
CARD_REDACTION = "card_redaction"


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


def referral_keys(ref: str) -> list[str]:
    """The outbox keys that name a referral (its card, e-mail and patient notice), so an
    erasure can remove those not linked to the conversation (see ``bot.team``)."""
    return [ref, f"mail:{ref}", f"ack:{ref}"]


def redaction_row(
    ref: str, message_id: int, reason: str, at: Any, encrypt: Callable[[str], str]
) -> dict[str, Any]:
    """The outbox row that edits a referral's team-chat card down to its reference code."""
    payload = {"ref": ref, "message_id": message_id, "reason": reason}
    return {
        "kind": CARD_REDACTION,
        "dedupe_key": f"redact:{message_id}",
        "conversation_id": None,
        "payload_enc": encrypt(json.dumps(payload)),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def queue_redactions(
    conn: Connection,
    cards: list[tuple[str, int | None]],
    reason: str,
    at: datetime,
    encrypt: Callable[[str], str],
) -> int:
    """Queue a redaction for each card that was posted; scrub the codes from the audit log
    and drop outbox items still named after them."""
    rows = [redaction_row(ref, mid, reason, at, encrypt) for ref, mid in cards if mid is not None]
    if rows:
        conn.execute(insert(_O), rows)
    codes = [ref for ref, _mid in cards]
    if codes:
        audit = m.audit_log
        conn.execute(audit.update().where(audit.c.subject.in_(codes)).values(subject=None))
        named = [key for ref in codes for key in referral_keys(ref)]
        conn.execute(delete(_O).where(_O.c.dedupe_key.in_(named)))
    return len(rows)


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
    counts, _cards = delete_conversations(conn, idle)
    finished_cutoff = at - timedelta(days=keep.finished_days or keep.days)
    finished = select(_C.c.id).where(
        _C.c.status == "finished", _C.c.updated_at < finished_cutoff, ~has_referral
    )
    _add(counts, delete_conversations(conn, finished)[0])
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
        more, cards = delete_conversations(conn, expired)
        _add(counts, more)
        queue_redactions(conn, cards, "expired", at, encrypt)
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
