"""The database's keys: its lookup secret, and ``rotate-key`` (see ``crypto.py`` for why).

``rotate_batch`` re-encrypts one batch of rows under the newest key and records how far it got
in ``meta.rotation``, in the same transaction; so a rotation stopped by a crash goes on from
its last committed batch when run again. A row changed by the running bot meanwhile is left
alone (compare-and-set on every encrypted column): the bot writes under the newest key anyway.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.storage import models as m
from bot.storage.crypto import Crypto
from bot.storage.errors import DecryptionError

LOOKUP = "lookup_secret"
ROTATION = "rotation"

#: Every encrypted column (every ``*_enc`` column of ``models.py``), by table, in the order a
#: rotation walks them (rows in the order of their primary key). ``meta.lookup_secret`` is
#: re-encrypted last, by ``_finish``. A new table goes at the end: a saved ``Progress``
#: counts tables by their place here.
ENCRYPTED: tuple[tuple[str, Table, tuple[str, ...]], ...] = (
    ("conversations", m.conversations, ("chat_enc", "record_enc")),
    ("answers", m.answers, ("value_enc", "raw_enc")),
    (
        "contacts",
        m.contacts,
        ("name_enc", "phone_enc", "email_enc", "username_enc", "best_time_enc"),
    ),
    ("outbox", m.outbox, ("payload_enc",)),
    ("referral_notes", m.referral_notes, ("text_enc",)),
    ("inbox", m.inbox, ("payload_enc",)),  # updates received and not yet handled
)


def _meta(conn: Connection, *names: str) -> dict[str, str]:
    meta = m.meta
    rows = conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.in_(names)))
    return {r[0]: r[1] for r in rows}


def _put(conn: Connection, values: dict[str, str], *, replace: bool) -> None:
    ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = ins(m.meta)
    if replace:
        excluded = {"value": stmt.excluded.value}
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_=excluded)
    else:
        stmt = stmt.on_conflict_do_nothing()
    conn.execute(stmt, [{"key": k, "value": v} for k, v in values.items()])


def database_lookup_secret(conn: Connection, crypto: Crypto, now: datetime) -> bytes | None:
    """The database's lookup secret, stored on first use; None when no listed key opens it."""
    stored = _meta(conn, "key_check", LOOKUP)
    if LOOKUP not in stored:
        check = stored.get("key_check")
        master = crypto.keys[0] if check is None else crypto.key_for_check(check)
        if master is None:
            return None  # a database from before rotation, first used with another key
        secret = base64.b64encode(master.lookup_secret).decode("ascii")
        values = {LOOKUP: crypto.encrypt(secret)}
        if check is None:
            values |= {"key_check": crypto.key_check, "key_check_created_at": now.isoformat()}
        _put(conn, values, replace=False)
        stored = _meta(conn, LOOKUP)
    try:
        return base64.b64decode(crypto.decrypt(stored[LOOKUP]))
    except DecryptionError:
        return None


@dataclass
class Progress:
    """Where a rotation stands: the table it is in and the last id done there."""

    to: str = ""  # the key check of the key it rotates to
    table: int = 0
    after: int | None = None  # None: from the table's first row (whatever its key)

    @classmethod
    def load(cls, conn: Connection, to: str) -> Progress:
        """The saved progress towards key ``to`` (a new start for any other key)."""
        raw = _meta(conn, ROTATION).get(ROTATION)
        saved = cls(**json.loads(raw)) if raw else cls(to)
        return saved if saved.to == to else cls(to)


def rotate_batch(conn: Connection, crypto: Crypto, size: int) -> tuple[str, int] | None:
    """Re-encrypt the next ``size`` rows; returns (table, rows rewritten), or None when every
    row and the lookup secret are under the newest key (the progress record is then removed)."""
    at = Progress.load(conn, crypto.key_check)
    if at.table >= len(ENCRYPTED):
        _finish(conn, crypto)
        return None
    name, table, columns = ENCRYPTED[at.table]
    key = _key(table)
    cols = [table.c[c] for c in columns]
    query = select(key, *cols).order_by(key).limit(size)
    if at.after is not None:
        query = query.where(key > at.after)
    rows = conn.execute(query).all()
    done = 0
    for row in rows:
        old = dict(zip(columns, row[1:], strict=True))
        new = {c: _rotated(crypto, v) for c, v in old.items()}
        if new != old:
            same = and_(key == row[0], *(_equal(table.c[c], v) for c, v in old.items()))
            done += conn.execute(update(table).where(same).values(**new)).rowcount
    full = len(rows) == size
    step = Progress(at.to, at.table, rows[-1][0]) if full else Progress(at.to, at.table + 1)
    _put(conn, {ROTATION: json.dumps(step.__dict__)}, replace=True)
    return name, done


def _key(table: Table) -> Any:
    """The table's integer primary key (``id``, or the inbox's ``update_id``)."""
    (key,) = table.primary_key.columns
    return key


def _rotated(crypto: Crypto, token: str | None) -> str | None:
    if token is None or crypto.is_current(token):
        return token
    return crypto.rotate(token)


def _equal(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _finish(conn: Connection, crypto: Crypto) -> None:
    token = _meta(conn, LOOKUP)[LOOKUP]
    values = {LOOKUP: _rotated(crypto, token) or token, "key_check": crypto.key_check}
    _put(conn, values, replace=True)
    conn.execute(delete(m.meta).where(m.meta.c.key == ROTATION))
