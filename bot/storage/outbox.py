"""The outbox: messages queued in the same transaction as the change that causes them, then
claimed and delivered by workers (``bot.team``), retried until they go through."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, update

from bot.storage import models as m
from bot.storage.database import Database
from bot.storage.turns import dumps
from bot.storage.views import OutboxItem

log = logging.getLogger("bot.storage")

_C, _O = m.conversations, m.outbox


class Outbox:
    """Queue, claim and settle outbox items."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def enqueue(
        self,
        kind: str,
        dedupe_key: str,
        payload: dict[str, Any],
        *,
        user_key: str | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Queue a message outside a turn (reminders, digests); wake the workers. False if
        the key was queued already."""
        cid_query = None
        if user_key is not None:
            user_hash = self.db.crypto.lookup(user_key)
            cid_query = select(_C.c.id).where(_C.c.user_hash == user_hash).scalar_subquery()

        def run(conn: Connection) -> bool:
            now = self.db.now()
            values: dict[str, Any] = {
                "kind": kind,
                "dedupe_key": dedupe_key,
                "conversation_id": cid_query,
                "payload_enc": self.db.crypto.encrypt(dumps(payload)),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": not_before or now,
                "created_at": now,
            }
            stmt = self.db.insert(_O).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
            inserted = bool(conn.execute(stmt).rowcount)
            if inserted:
                self.db.notify_in(conn)  # other processes' workers, at the commit
            return inserted

        inserted = await self.db.run(run)
        if inserted:
            self.db.queued()  # this process's workers
        return inserted

    async def claim_outbox(
        self,
        worker_id: str,
        limit: int,
        *,
        lease: timedelta = timedelta(minutes=5),
        kinds: Sequence[str] | None = None,
    ) -> list[OutboxItem]:
        """Claim up to ``limit`` due items for ``lease``; no other worker gets them meanwhile.

        PostgreSQL uses ``FOR UPDATE SKIP LOCKED``, so concurrent workers never wait for each
        other and never claim the same row. An item whose lease ran out (a crashed worker) is
        claimed again. ``attempts`` counts claims.
        """
        items = await self.db.run(lambda conn: self._claim(conn, worker_id, limit, lease, kinds))
        if items:
            log.debug("outbox: %s claimed %d", worker_id, len(items))
        return items

    def _claim(
        self,
        conn: Connection,
        worker_id: str,
        limit: int,
        lease: timedelta,
        kinds: Sequence[str] | None,
    ) -> list[OutboxItem]:
        now = self.db.now()
        due = (
            select(_O.c.id)
            .where(
                _O.c.status == "pending",
                _O.c.next_attempt_at <= now,
                or_(_O.c.claimed_until.is_(None), _O.c.claimed_until < now),
            )
            .order_by(_O.c.next_attempt_at, _O.c.id)
            .limit(limit)
        )
        if kinds:
            due = due.where(_O.c.kind.in_(kinds))
        stmt = update(_O).values(
            claimed_by=worker_id, claimed_until=now + lease, attempts=_O.c.attempts + 1
        )
        if self.db.is_postgres:
            picked = due.with_for_update(skip_locked=True).cte("picked")
            stmt = stmt.where(_O.c.id == picked.c.id)
        else:
            stmt = stmt.where(_O.c.id.in_(due.scalar_subquery()))
        rows = conn.execute(
            stmt.returning(
                _O.c.id,
                _O.c.kind,
                _O.c.dedupe_key,
                _O.c.payload_enc,
                _O.c.attempts,
                _O.c.conversation_id,
            )
        ).all()
        people = self._people(conn, {r.conversation_id for r in rows})
        return [self._item(r, people) for r in sorted(rows, key=lambda r: r.id)]

    def _item(self, row: Any, people: dict[int, tuple[str, int | None]]) -> OutboxItem:
        user_hash, chat_id = people.get(row.conversation_id, (None, None))
        payload = json.loads(self.db.crypto.decrypt(row.payload_enc))
        return OutboxItem(
            row.id, row.kind, row.dedupe_key, payload, row.attempts, user_hash, chat_id
        )

    def _people(self, conn: Connection, cids: set[int | None]) -> dict[int, tuple[str, int | None]]:
        """The keyed hash and chat of each conversation named."""
        people: dict[int, tuple[str, int | None]] = {}
        known = {cid for cid in cids if cid is not None}
        if known:
            found = select(_C.c.id, _C.c.user_hash, _C.c.chat_enc).where(_C.c.id.in_(known))
            for cid, user_hash, chat_enc in conn.execute(found):
                chat = None if chat_enc is None else int(self.db.crypto.decrypt(chat_enc))
                people[cid] = (user_hash, chat)
        return people

    async def mark_sent(self, item_id: int, worker_id: str) -> bool:
        """The item was delivered; its payload is dropped. False if the claim was lost."""
        stmt = (
            update(_O)
            .where(_O.c.id == item_id, _O.c.claimed_by == worker_id, _O.c.status == "pending")
            .values(
                status="sent",
                sent_at=bindparam("now"),
                payload_enc=None,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return await self.db.run(lambda c: c.execute(stmt, {"now": self.db.now()}).rowcount == 1)

    async def mark_failed(
        self,
        item_id: int,
        worker_id: str,
        retry_at: datetime,
        *,
        error: str = "",
        give_up: bool = False,
    ) -> bool:
        """Delivery failed: try again from ``retry_at`` (or never, with ``give_up``).
        ``error`` is kept for the operator and must not contain personal data."""
        stmt = (
            update(_O)
            .where(_O.c.id == item_id, _O.c.claimed_by == worker_id, _O.c.status == "pending")
            .values(
                status="failed" if give_up else "pending",
                next_attempt_at=retry_at,
                claimed_by=None,
                claimed_until=None,
                last_error=error[:500] or None,
            )
        )
        return await self.db.run(lambda c: c.execute(stmt).rowcount == 1)

    async def release_claims(self, gone: Callable[[str], bool]) -> int:
        """Give back, due as before, the items still claimed by workers for which
        ``gone(worker_id)`` is true (a killed process's); return how many."""

        def run(conn: Connection) -> int:
            now = self.db.now()
            held = (
                select(_O.c.claimed_by)
                .where(_O.c.status == "pending", _O.c.claimed_until >= now)
                .distinct()
            )
            dead = [w for w in conn.execute(held).scalars() if w is not None and gone(w)]
            if not dead:
                return 0
            stmt = (
                update(_O)
                .where(_O.c.status == "pending", _O.c.claimed_by.in_(dead))
                .values(claimed_by=None, claimed_until=None)
            )
            return int(conn.execute(stmt).rowcount)

        released = await self.db.run(run)
        if released:
            log.info("outbox: %d items claimed by a process that is gone were given back", released)
        return released

    async def outbox_counts(self) -> dict[str, int]:
        """Number of outbox items per status."""
        stmt = select(_O.c.status, func.count()).group_by(_O.c.status)
        rows = await self.db.run(lambda c: c.execute(stmt).all(), write=False)
        return {r[0]: int(r[1]) for r in rows}
