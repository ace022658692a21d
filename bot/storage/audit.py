"""The audit log: who did what to which referral, never with personal data."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from bot.storage import models as m
from bot.storage.views import AuditView

if TYPE_CHECKING:
    from bot.storage.database import Database


def write_audit(
    conn: Connection,
    at: datetime,
    actor_hash: str | None,
    action: str,
    subject: str | None,
    detail: dict[str, Any],
) -> None:
    """Add one audit line in the caller's transaction."""
    values = {"at": at, "actor_hash": actor_hash, "action": action, "subject": subject}
    conn.execute(insert(m.audit_log), {**values, "detail": detail})


class Audit:
    """Audit lines written and read outside a turn."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def audit(
        self,
        actor_key: str | None,
        action: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Log a coordinator action (e.g. a refused button press). ``subject`` and ``detail``
        must not contain personal data; the actor is stored as a keyed hash."""
        actor = None if actor_key is None else self.db.crypto.lookup(actor_key)
        await self.db.run(
            lambda c: write_audit(c, self.db.now(), actor, action, subject, detail or {})
        )

    async def recent_audit(self, limit: int = 50) -> list[AuditView]:
        """The latest ``limit`` audit lines, newest first."""
        a = m.audit_log
        stmt = (
            select(a.c.at, a.c.actor_hash, a.c.action, a.c.subject, a.c.detail)
            .order_by(a.c.id.desc())
            .limit(limit)
        )
        rows = await self.db.run(lambda c: c.execute(stmt).all(), write=False)
        return [AuditView(*r) for r in rows]
