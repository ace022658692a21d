"""Erasure: a conversation and every row that hangs off it, deleted in one place.

``/delete`` (``Turn.erase``, ``Store.erase_person``) and the retention purge both delete through
``delete_conversations``. Each team-chat card already posted gets an outbox item that edits it
down to its reference code (it survives restarts and Telegram faults); each burst's CSV file that
listed an erased referral gets one that replaces the file with one of the referrals still there.
Earlier audit lines lose the reference code they named, and outbox items still named after it
are dropped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, insert, select

from bot.storage import models as m
from bot.storage.audit import write_audit
from bot.storage.crypto import Crypto
from bot.storage.views import Erasure

_C, _R, _O = m.conversations, m.referrals, m.outbox
_CHUNK = 500

#: The outbox kind that redacts a team-chat card (``bot.team.CARD_REDACTION``).
CARD_REDACTION = "card_redaction"
#: The outbox kind that replaces a burst's CSV file without the erased (``bot.team``).
DIGEST_REDACTION = "digest_redaction"

#: The tables an erasure counts, and deletes from.
COUNTED = (
    "conversations",
    *(name for name, _table in m.CONVERSATION_CHILDREN),
    "referral_status_history",
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
    return _outbox_row(CARD_REDACTION, f"redact:{message_id}", payload, at, encrypt)


def digest_redaction_row(
    message_id: int, reason: str, at: Any, encrypt: Callable[[str], str]
) -> dict[str, Any]:
    """The outbox row that replaces a burst's CSV file (``message_id``) with one of the
    referrals it still lists. Each erasure queues its own (a random key: nothing in it points
    back to the erased referral)."""
    payload = {"message_id": message_id, "reason": reason}
    key = f"redact-digest:{message_id}:{secrets.token_hex(8)}"
    return _outbox_row(DIGEST_REDACTION, key, payload, at, encrypt)


def _outbox_row(
    kind: str, key: str, payload: dict[str, Any], at: Any, encrypt: Callable[[str], str]
) -> dict[str, Any]:
    return {
        "kind": kind,
        "dedupe_key": key,
        "conversation_id": None,
        "payload_enc": encrypt(json.dumps(payload)),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def delete_conversations(
    conn: Connection,
    ids: Select[Any] | list[int],
    reason: str,
    at: datetime,
    encrypt: Callable[[str], str],
) -> Erasure:
    """Delete the conversations ``ids`` selects (or lists) and every row that hangs off them,
    and queue the redaction of their posted cards and burst CSV files (``reason``: ``erased``
    or ``expired``).

    Children are deleted explicitly (not only by ON DELETE CASCADE) so the counts are exact on
    both databases.
    """
    cids = ids if isinstance(ids, list) else list(conn.execute(ids).scalars())
    counts = dict.fromkeys(COUNTED, 0)
    cards: list[tuple[str, int | None]] = []
    digests: set[int] = set()  # the burst CSV files that list an erased referral
    for start in range(0, len(cids), _CHUNK):
        chunk = cids[start : start + _CHUNK]
        refs = conn.execute(
            select(_R.c.id, _R.c.ref_code, _R.c.card_message_id, _R.c.digest_message_id).where(
                _R.c.conversation_id.in_(chunk)
            )
        ).all()
        cards.extend((r.ref_code, r.card_message_id) for r in refs)
        digests.update(r.digest_message_id for r in refs if r.digest_message_id is not None)
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
    _queue_redactions(conn, cards, digests, reason, at, encrypt)
    return Erasure(counts, cards)


def _queue_redactions(
    conn: Connection,
    cards: list[tuple[str, int | None]],
    digests: set[int],
    reason: str,
    at: datetime,
    encrypt: Callable[[str], str],
) -> None:
    """Queue a redaction for each card that was posted and each burst CSV file that listed
    an erased referral; scrub the codes from the audit log and drop outbox items still named
    after them."""
    rows = [redaction_row(ref, mid, reason, at, encrypt) for ref, mid in cards if mid is not None]
    rows += [digest_redaction_row(mid, reason, at, encrypt) for mid in sorted(digests)]
    if rows:
        conn.execute(insert(_O), rows)
    codes = [ref for ref, _mid in cards]
    if codes:
        audit = m.audit_log
        conn.execute(audit.update().where(audit.c.subject.in_(codes)).values(subject=None))
        named = [key for ref in codes for key in referral_keys(ref)]
        conn.execute(delete(_O).where(_O.c.dedupe_key.in_(named)))


def erase_conversation(
    conn: Connection, crypto: Crypto, cid: int | None, at: datetime, actor_hash: str | None
) -> Erasure:
    """Erase one person's conversation (``/delete``) and leave an audit line saying only that
    an erasure happened and how many rows it removed: nothing in it points back to the
    person, not even their keyed hash."""
    ids = [] if cid is None else [cid]
    erasure = delete_conversations(conn, ids, "erased", at, crypto.encrypt)
    detail = {"by": "coordinator" if actor_hash else "self", "rows": erasure.counts}
    write_audit(conn, at, actor_hash, "erase_person", None, detail)
    return erasure
