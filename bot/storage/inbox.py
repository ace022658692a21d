"""The inbox: channel updates kept durably from receipt until they are handled.

A channel stores each batch it receives in one transaction (``receive``) before it tells the
platform the batch arrived (Telegram: the next getUpdates offset). Updates are handed to the
handlers after that, and marked ``done`` once their turn committed and their replies went
out. What a crash interrupted is still ``pending`` at the next start. The update's own text is
encrypted (it holds what the person wrote) and emptied when the update is done; until then
``rotate-key`` re-encrypts it with every other encrypted column (``keys.ENCRYPTED``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from bot.storage import models as m
from bot.storage.store import Store

_I = m.inbox
MAX_ATTEMPTS = 3  # an update whose handler failed this often is given up (and logged)
KEEP_DONE = timedelta(hours=1)  # done rows kept to recognise re-deliveries


@dataclass(frozen=True)
class Received:
    """One update kept in the inbox."""

    update_id: int
    data: dict[str, Any]
    attempts: int


class Inbox:
    """Durable receipt of channel updates, on the store's database."""

    def __init__(self, store: Store) -> None:
        self.db = store.database

    async def receive(self, updates: list[tuple[int, dict[str, Any]]]) -> set[int]:
        """Keep a batch in one transaction; return the ids not received before."""
        if not updates:
            return set()
        ids = [update_id for update_id, _ in updates]

        def run(conn: Connection) -> set[int]:
            known = set(
                conn.execute(select(_I.c.update_id).where(_I.c.update_id.in_(ids))).scalars()
            )
            now = self.db.now()
            rows = [
                {
                    "update_id": update_id,
                    "payload_enc": self.db.crypto.encrypt(json.dumps(data, separators=(",", ":"))),
                    "attempts": 0,
                    "received_at": now,
                    "done_at": None,
                }
                for update_id, data in updates
                if update_id not in known
            ]
            if rows:
                stmt = self.db.insert(_I).on_conflict_do_nothing(index_elements=["update_id"])
                conn.execute(stmt, rows)
            return {update_id for update_id, _ in updates if update_id not in known}

        return await self.db.run(run)

    async def pending(self) -> list[Received]:
        """Return the updates received and not done, oldest first."""
        stmt = (
            select(_I.c.update_id, _I.c.payload_enc, _I.c.attempts)
            .where(_I.c.done_at.is_(None), _I.c.payload_enc.is_not(None))
            .order_by(_I.c.update_id)
        )
        rows = await self.db.run(lambda c: c.execute(stmt).all(), write=False)
        return [
            Received(update_id, json.loads(self.db.crypto.decrypt(token)), attempts)
            for update_id, token, attempts in rows
        ]

    async def is_done(self, update_id: int) -> bool:
        """Return True when the update was handled (its replies sent)."""
        stmt = select(_I.c.done_at).where(_I.c.update_id == update_id)
        done = await self.db.run(lambda c: c.execute(stmt).scalar_one_or_none(), write=False)
        return done is not None

    async def done(self, update_id: int) -> None:
        """Mark an update handled and forget what it said."""
        stmt = (
            update(_I)
            .where(_I.c.update_id == update_id)
            .values(done_at=self.db.now(), payload_enc=None)
        )
        await self.db.run(lambda c: c.execute(stmt))

    async def failed(self, update_id: int) -> int:
        """Count a failed attempt; give the update up after MAX_ATTEMPTS. Return the count."""

        def run(conn: Connection) -> int:
            attempts = conn.execute(
                update(_I)
                .where(_I.c.update_id == update_id)
                .values(attempts=_I.c.attempts + 1)
                .returning(_I.c.attempts)
            ).scalar_one_or_none()
            if attempts is not None and attempts >= MAX_ATTEMPTS:
                conn.execute(
                    update(_I)
                    .where(_I.c.update_id == update_id)
                    .values(done_at=self.db.now(), payload_enc=None)
                )
            return int(attempts or 0)

        return await self.db.run(run)

    async def prune(self) -> int:
        """Delete done rows older than KEEP_DONE; return how many went."""
        cutoff = self.db.now() - KEEP_DONE
        stmt = delete(_I).where(_I.c.done_at.is_not(None), _I.c.done_at < cutoff)
        return int(await self.db.run(lambda c: c.execute(stmt).rowcount))
