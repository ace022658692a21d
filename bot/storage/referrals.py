"""Referrals as the study team works them: the card's details, status changes with their
history and audit line, call attempts, acknowledgement and reminders."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, insert, or_, select, update

from bot.storage import models as m
from bot.storage.audit import write_audit
from bot.storage.database import Database
from bot.storage.errors import ReferralNotFoundError, StaleStatusError, StatusTransitionError
from bot.storage.views import (
    AnswerView,
    ContactView,
    OutcomeView,
    ReferralDetails,
    StatusChange,
    answer_view,
)

_C, _R = m.conversations, m.referrals


class Referrals:
    """Read and move referrals."""

    def __init__(self, database: Database) -> None:
        self.db = database

    # ----------------------------------------------------------------- reading

    async def referral(self, ref_code: str) -> ReferralDetails | None:
        """One referral with everything its card shows, or None."""
        stmt = _referral_query().where(_R.c.ref_code == ref_code)

        def run(conn: Connection) -> ReferralDetails | None:
            found = self._details(conn, conn.execute(stmt).all())
            return found[0] if found else None

        return await self.db.run(run, write=False)

    async def referrals(self, statuses: Iterable[str] | None = None) -> list[ReferralDetails]:
        """Referrals oldest first; all of them (``/export``) or those in ``statuses``
        (``/referrals``: ``models.OPEN_REFERRAL_STATUSES``)."""
        stmt = _referral_query().order_by(_R.c.id)
        if statuses is not None:
            stmt = stmt.where(_R.c.status.in_(list(statuses)))
        return await self.db.run(lambda c: self._details(c, c.execute(stmt).all()), write=False)

    async def referrals_in_digest(self, message_id: int) -> list[ReferralDetails]:
        """The referrals, still here, that the digest CSV file ``message_id`` lists."""
        stmt = _referral_query().where(_R.c.digest_message_id == message_id).order_by(_R.c.id)
        return await self.db.run(lambda c: self._details(c, c.execute(stmt).all()), write=False)

    def _details(self, conn: Connection, rows: Sequence[Any]) -> list[ReferralDetails]:
        if not rows:
            return []
        cids = list({r.conversation_id for r in rows})
        answers = self._answers(conn, cids)
        decisions = _decisions(conn, cids)
        contacts = self._contacts(conn, cids)
        decrypt = self.db.crypto.decrypt
        return [
            ReferralDetails(
                ref_code=r.ref_code,
                status=r.status,
                outcome=r.outcome,
                attempts=r.attempts,
                created_at=r.created_at,
                acknowledged_at=r.acknowledged_at,
                reminded_at=r.reminded_at,
                card_message_id=r.card_message_id,
                user_hash=r.user_hash,
                chat_id=None if r.chat_enc is None else int(decrypt(r.chat_enc)),
                lang=r.lang,
                source=r.source,
                flow_id=r.flow_id,
                flow_version=r.flow_version,
                decision=decisions.get(r.conversation_id),
                answers=answers.get(r.conversation_id, {}),
                contact=contacts.get(r.conversation_id),
            )
            for r in rows
        ]

    def _answers(self, conn: Connection, cids: list[int]) -> dict[int, dict[str, AnswerView]]:
        """The latest answer to each fact, per conversation."""
        a = m.answers
        answers: dict[int, dict[str, AnswerView]] = {}
        for row in conn.execute(
            select(
                a.c.conversation_id, a.c.fact, a.c.value_enc, a.c.raw_enc, a.c.unit, a.c.answered_at
            )
            .where(a.c.conversation_id.in_(cids))
            .order_by(a.c.id)
        ):
            answers.setdefault(row[0], {})[row[1]] = answer_view(self.db.crypto, row[1:])
        return answers

    def _contacts(self, conn: Connection, cids: list[int]) -> dict[int, ContactView]:
        k, dec = m.contacts, self.db.crypto.decrypt_opt
        return {
            row[0]: ContactView(
                dec(row[1]), dec(row[2]), dec(row[3]), dec(row[4]), dec(row[5]), row[6]
            )
            for row in conn.execute(
                select(
                    k.c.conversation_id,
                    k.c.name_enc,
                    k.c.phone_enc,
                    k.c.email_enc,
                    k.c.username_enc,
                    k.c.best_time_enc,
                    k.c.call_lang,
                ).where(k.c.conversation_id.in_(cids))
            )
        }

    # ----------------------------------------------------------------- changing

    async def set_referral_status(
        self,
        ref_code: str,
        new_status: str,
        actor_key: str,
        *,
        expected: str | None = None,
    ) -> StatusChange:
        """Move a referral to ``new_status``, with history and an audit line.

        ``expected``: the status the coordinator saw; if it changed meanwhile (two people
        pressing buttons) ``StaleStatusError`` is raised and nothing changes; a status the
        workflow (``models.next_statuses``) does not allow after the current one raises
        ``StatusTransitionError`` (a ``StaleStatusError``). Leaving ``new``
        acknowledges the referral (``first_acknowledgement``: tell the patient).
        """
        if new_status not in m.REFERRAL_STATUSES:
            raise ValueError(f"unknown referral status {new_status!r}")
        actor = self.db.crypto.lookup(actor_key)
        return await self.db.run(
            lambda conn: self._move(conn, ref_code, new_status, actor, expected)
        )

    def _move(
        self, conn: Connection, ref_code: str, new_status: str, actor: str, expected: str | None
    ) -> StatusChange:
        now = self.db.now()
        stmt = select(_R.c.id, _R.c.status, _R.c.acknowledged_at, _R.c.attempts).where(
            _R.c.ref_code == ref_code
        )
        if self.db.is_postgres:
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise ReferralNotFoundError(f"no referral {ref_code}")
        if expected is not None and row.status != expected:
            raise StaleStatusError(f"referral {ref_code} is now {row.status}")
        first_ack = row.acknowledged_at is None and new_status != "new"
        if row.status == new_status:
            return StatusChange(ref_code, row.status, new_status, now, False)
        if new_status not in m.next_statuses(row.status, row.attempts):
            raise StatusTransitionError(
                f"referral {ref_code} cannot go from {row.status} to {new_status}"
            )
        values: dict[str, Any] = {"status": new_status, "updated_at": now}
        if first_ack:
            values["acknowledged_at"] = now
        conn.execute(update(_R).where(_R.c.id == row.id).values(**values))
        history = {"referral_id": row.id, "from_status": row.status, "to_status": new_status}
        conn.execute(insert(m.referral_history), {**history, "actor_hash": actor, "at": now})
        change = {"from": row.status, "to": new_status}
        write_audit(conn, now, actor, "referral_status", ref_code, change)
        return StatusChange(ref_code, row.status, new_status, now, first_ack)

    async def acknowledge(self, ref_code: str, actor_key: str) -> bool:
        """Mark a referral acknowledged without changing its status. True the first time."""

        def change(conn: Connection, now: datetime) -> dict[str, Any] | None:
            stmt = (
                update(_R)
                .where(_R.c.ref_code == ref_code, _R.c.acknowledged_at.is_(None))
                .values(acknowledged_at=now, updated_at=now)
            )
            return {} if conn.execute(stmt).rowcount else None

        done = await self._audited(actor_key, "referral_acknowledged", ref_code, change)
        return done is not None

    async def record_contact_attempt(self, ref_code: str, actor_key: str) -> int:
        """Count one attempt to reach the patient; returns the number of attempts so far."""

        def change(conn: Connection, now: datetime) -> dict[str, Any] | None:
            stmt = (
                update(_R)
                .where(_R.c.ref_code == ref_code)
                .values(attempts=_R.c.attempts + 1, updated_at=now)
                .returning(_R.c.attempts)
            )
            attempts = conn.execute(stmt).scalar_one_or_none()
            if attempts is None:
                raise ReferralNotFoundError(f"no referral {ref_code}")
            return {"attempts": attempts}

        detail = await self._audited(actor_key, "contact_attempt", ref_code, change)
        assert detail is not None
        return int(detail["attempts"])

    async def _audited(
        self,
        actor_key: str,
        action: str,
        ref_code: str,
        change: Callable[[Connection, datetime], dict[str, Any] | None],
    ) -> dict[str, Any] | None:
        """Run ``change`` and, when it returns an audit detail, write the audit line in the
        same transaction."""
        actor = self.db.crypto.lookup(actor_key)

        def run(conn: Connection) -> dict[str, Any] | None:
            now = self.db.now()
            detail = change(conn, now)
            if detail is not None:
                write_audit(conn, now, actor, action, ref_code, detail)
            return detail

        return await self.db.run(run)

    async def set_card_message(self, ref_code: str, message_id: int) -> bool:
        """Remember the team-chat message that shows this referral's card; False when the
        referral no longer exists (erased meanwhile: the card must be redacted)."""
        stmt = update(_R).where(_R.c.ref_code == ref_code).values(card_message_id=message_id)
        return bool(await self.db.run(lambda c: c.execute(stmt).rowcount))

    async def set_digest_message(self, ref_codes: Sequence[str], message_id: int) -> int:
        """Remember the team-chat CSV file that lists these referrals; how many still exist
        (fewer than asked: some were erased while the file was on its way)."""
        stmt = (
            update(_R)
            .where(_R.c.ref_code.in_(list(ref_codes)))
            .values(digest_message_id=message_id)
        )
        return int(await self.db.run(lambda c: c.execute(stmt).rowcount))

    async def referrals_to_remind(self, hours: int) -> list[str]:
        """Codes of referrals nobody acknowledged within ``hours`` and not reminded since."""

        def run(conn: Connection) -> list[str]:
            cutoff = self.db.now() - timedelta(hours=hours)
            stmt = (
                select(_R.c.ref_code)
                .where(
                    _R.c.acknowledged_at.is_(None),
                    _R.c.created_at <= cutoff,
                    or_(_R.c.reminded_at.is_(None), _R.c.reminded_at <= cutoff),
                )
                .order_by(_R.c.id)
            )
            return list(conn.execute(stmt).scalars())

        return await self.db.run(run, write=False)

    async def mark_reminded(self, ref_codes: Sequence[str]) -> None:
        """Note that the team was reminded of these referrals now."""
        if ref_codes:
            stmt = update(_R).where(_R.c.ref_code.in_(list(ref_codes)))
            await self.db.run(lambda c: c.execute(stmt.values(reminded_at=self.db.now())))


def _referral_query() -> Select[Any]:
    return select(
        _R.c.id,
        _R.c.ref_code,
        _R.c.status,
        _R.c.outcome,
        _R.c.attempts,
        _R.c.created_at,
        _R.c.acknowledged_at,
        _R.c.reminded_at,
        _R.c.card_message_id,
        _R.c.conversation_id,
        _C.c.user_hash,
        _C.c.chat_enc,
        _C.c.lang,
        _C.c.source,
        _C.c.flow_id,
        _C.c.flow_version,
    ).join(_C, _C.c.id == _R.c.conversation_id)


def _decisions(conn: Connection, cids: list[int]) -> dict[int, OutcomeView]:
    """The latest outcome per conversation."""
    o = m.outcomes
    return {
        row[0]: OutcomeView(row[1], list(row[2]), list(row[3]), row[4], row[5], row[6])
        for row in conn.execute(
            select(
                o.c.conversation_id,
                o.c.outcome,
                o.c.failed,
                o.c.unknown,
                o.c.flow_id,
                o.c.protocol_version,
                o.c.decided_at,
            )
            .where(o.c.conversation_id.in_(cids))
            .order_by(o.c.id)
        )
    }
