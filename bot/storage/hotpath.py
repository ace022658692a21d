"""The hot path: one turn's read and writes, the same code for both databases.

The statements (``statements.py``) run on the driver connection itself through a small
``Driver`` interface, which each backend implements (``backends/``). Values reach the driver
as SQLAlchemy would send them (UTC text for SQLite times, JSON as text).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.storage.crypto import Crypto
from bot.storage.errors import ConcurrentTurnError, StorageError
from bot.storage.statements import Sql, Statements
from bot.storage.turns import Loaded, Save, Turn, Writes, dumps


class Driver(Protocol):
    """A driver connection in a transaction, as the hot path uses it."""

    def time(self, value: datetime) -> Any: ...

    async def row(self, q: Sql, params: Mapping[str, Any]) -> Any: ...

    async def count(self, q: Sql, params: Mapping[str, Any]) -> int: ...

    async def many(self, q: Sql, params: Sequence[Mapping[str, Any]]) -> None: ...


def loaded(row: Any, crypto: Crypto) -> Loaded:
    """The conversation row (id, version, status, record_enc, has chat), or None, as loaded."""
    if row is None:
        return Loaded(duplicate=False)
    return Loaded(
        duplicate=False,
        conversation_id=row[0],
        version=row[1],
        status=row[2],
        record=json.loads(crypto.decrypt(row[3])),
        has_chat=bool(row[4]),
    )


async def load(drv: Driver, s: Statements, crypto: Crypto, user_hash: str) -> Loaded:
    """Read the conversation (``FOR UPDATE`` on PostgreSQL)."""
    return loaded(await drv.row(s.select_conversation, {"h": user_hash}), crypto)


def in_one_statement(turn: Turn) -> bool:
    """True when PostgreSQL writes the whole turn in one statement (``flush``), which then needs
    no transaction block: a save with its answers, or only the update's mark, or nothing."""
    w = turn.writes
    if w.erase or w.outcomes or w.consents or w.contact or w.referrals or w.outbox:
        return False
    return w.alerts is False and (w.save is not None or not w.answers)


async def flush(
    drv: Driver, s: Statements, crypto: Crypto, turn: Turn, now: datetime, *, mark: bool
) -> None:
    """Write everything the turn buffered (inside the caller's transaction, if any) and, when
    ``mark``, mark the update processed. On PostgreSQL a save, its answers and the mark are
    one statement (``statements.py``)."""
    t = drv.time(now)
    w = turn.writes
    cid: int | None
    if s.pg and w.save is not None:
        cid = await _save_in_one(drv, s, crypto, turn, t, mark=mark)
    else:
        marking = {"update_id": turn.update_id, "at": t}
        if mark and turn.update_id is not None and await drv.count(s.mark_update, marking) != 1:
            raise ConcurrentTurnError("the update was processed by another process meanwhile")
        cid = await _save_conversation(drv, s, crypto, turn, t)
        if cid is not None and w.answers:
            await drv.many(s.insert_answer, _answer_rows(drv, crypto, w, cid, t))
    if cid is None:
        if w.has_children():
            raise RuntimeError("save() a new conversation before adding anything to it")
        return
    await _write_history(drv, s, w, cid, t)
    await _write_contact(drv, s, crypto, w, cid, t)
    await _write_referrals(drv, s, crypto, w, cid, t)


def _conversation_values(crypto: Crypto, saved: Save, t: Any) -> dict[str, Any]:
    return {
        "record_enc": crypto.encrypt(saved.record_json),
        "status": saved.status,
        "lang": saved.lang,
        "source": saved.source,
        "flow_id": saved.flow_id,
        "flow_version": saved.flow_version,
        "updated_at": t,
    }


async def _save_in_one(
    drv: Driver, s: Statements, crypto: Crypto, turn: Turn, t: Any, *, mark: bool
) -> int:
    """PostgreSQL: save (or create) the conversation, mark the update (when ``mark``) and add
    the answers in one statement; the conversation's id."""
    loaded, w = turn.loaded, turn.writes
    cid = loaded.conversation_id
    assert w.save is not None and s.save_with_answers and s.create_with_answers
    rows = _answer_rows(drv, crypto, w, 0, t)
    chat = None if w.chat_id is None or loaded.has_chat else crypto.encrypt(str(w.chat_id))
    values = _conversation_values(crypto, w.save, t)
    values.update(b_update=turn.update_id if mark else None, chat_enc=chat)
    values.update(
        facts=[r["fact"] for r in rows],
        values=[r["value_enc"] for r in rows],
        raws=[r["raw_enc"] for r in rows],
        units=[r["unit"] for r in rows],
        times=[r["answered_at"] for r in rows],
    )
    if cid is None:
        values["user_hash"] = turn.user_hash
        return int((await drv.row(s.create_with_answers, values))[0])
    values.update(b_id=cid, b_version=loaded.version)
    if (await drv.row(s.save_with_answers, values))[0] != 1:
        raise ConcurrentTurnError("the conversation was changed by another process")
    return cid


async def _save_conversation(
    drv: Driver, s: Statements, crypto: Crypto, turn: Turn, t: Any
) -> int | None:
    """Insert or update the conversation row; its id (None: new and not saved)."""
    loaded, saved, chat = turn.loaded, turn.writes.save, turn.writes.chat_id
    cid = loaded.conversation_id
    if saved is None:
        return cid
    values = _conversation_values(crypto, saved, t)
    if cid is None:
        values.update(
            user_hash=turn.user_hash,
            chat_enc=None if chat is None else crypto.encrypt(str(chat)),
            version=1,
            last_update_id=turn.update_id,
            created_at=t,
        )
        try:
            return int((await drv.row(s.insert_conversation, values))[0])
        except sqlite3.IntegrityError:  # another process created it (SQLite only)
            raise ConcurrentTurnError(
                "the conversation was created by another process meanwhile"
            ) from None
    values.update(b_id=cid, b_version=loaded.version, b_update=turn.update_id)
    if await drv.count(s.update_conversation, values) != 1:
        raise ConcurrentTurnError("the conversation was changed by another process")
    if chat is not None and not loaded.has_chat:
        await drv.count(s.set_chat, {"b_id": cid, "b_chat": crypto.encrypt(str(chat))})
    return cid


def _answer_rows(drv: Driver, crypto: Crypto, w: Writes, cid: int, t: Any) -> list[dict[str, Any]]:
    return [
        {
            "conversation_id": cid,
            "fact": a["fact"],
            "value_enc": crypto.encrypt(a["value"]),
            "raw_enc": crypto.encrypt(a["raw"]) if a["raw"] else None,
            "unit": a["unit"],
            "answered_at": t if a["at"] is None else drv.time(a["at"]),
        }
        for a in w.answers
    ]


async def _write_history(drv: Driver, s: Statements, w: Writes, cid: int, t: Any) -> None:
    """Outcomes and consents: history rows."""
    if w.outcomes:
        rows = [{**o, "conversation_id": cid, "decided_at": t} for o in w.outcomes]
        await drv.many(s.insert_outcome, rows)
    if w.consents:
        rows = [{**c, "conversation_id": cid, "at": t} for c in w.consents]
        await drv.many(s.insert_consent, rows)


async def _write_contact(
    drv: Driver, s: Statements, crypto: Crypto, w: Writes, cid: int, t: Any
) -> None:
    """The contact details and the trial-alert choice: one row each, replaced."""
    if w.contact is not None:
        contact, enc = w.contact, crypto.encrypt_opt
        values = {
            "conversation_id": cid,
            "name_enc": enc(contact["name"]),
            "phone_enc": enc(contact["phone"]),
            "email_enc": enc(contact["email"]),
            "username_enc": enc(contact["username"]),
            "best_time_enc": enc(contact["best_time"]),
            "call_lang": contact["call_lang"],
            "updated_at": t,
        }
        await drv.count(s.upsert_contact, values)
    if isinstance(w.alerts, tuple):
        values = {"conversation_id": cid, "topic": w.alerts[0], "lang": w.alerts[1], "at": t}
        await drv.count(s.upsert_alerts, values)
    elif w.alerts is None:
        await drv.count(s.delete_alerts, {"cid": cid})


async def _write_referrals(
    drv: Driver, s: Statements, crypto: Crypto, w: Writes, cid: int, t: Any
) -> None:
    """New referrals with their first history row, and outbox items."""
    for ref in w.referrals:
        values = {
            "ref_code": ref["ref_code"],
            "conversation_id": cid,
            "outcome": ref["outcome"],
            "status": "new",
            "attempts": 0,
            "created_at": t,
            "updated_at": t,
        }
        row = await drv.row(s.insert_referral, values)
        if row is None:
            # About one chance in 10**12 per referral; processing the update again fixes it.
            raise StorageError("a new reference code collided with an existing one; retry")
        history = {"referral_id": row[0], "from_status": None, "to_status": "new"}
        await drv.count(s.insert_history, {**history, "actor_hash": None, "at": t})
    if w.outbox:
        rows = [
            {
                "kind": o["kind"],
                "dedupe_key": o["dedupe_key"],
                "conversation_id": cid,
                "payload_enc": crypto.encrypt(dumps(o["payload"])),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": t,
                "created_at": t,
            }
            for o in w.outbox
        ]
        await drv.many(s.insert_outbox, rows)
