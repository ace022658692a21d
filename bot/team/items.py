"""How each outbox kind is sent: a card, a burst's digest and CSV, a reminder, a patient's
notice, a redaction, a console's card edit, an e-mail. The worker (``outbox.py``) claims the
items and calls these; a :class:`~bot.team.sending.SendError` has an item tried again."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.i18n import get_catalogs
from bot.storage.store import OutboxItem, ReferralDetails, Store
from bot.team import (
    CARD_REDACTION,
    DIGEST_CSV,
    DIGEST_REDACTION,
    REFERRAL_CARD,
    REFERRAL_DIGEST,
    TEAM_REMINDER,
)
from bot.team.card_edits import edit_card
from bot.team.cards import TeamTexts, Text, escape, patient_notice, team_time
from bot.team.export import referrals_csv
from bot.team.sending import Mailer, Sender

log = logging.getLogger("bot.team.outbox")


class ItemSenders:
    """Send one outbox item of each kind through the team's sender, the mailer or both."""

    def __init__(
        self,
        store: Store,
        sender: Sender | None,
        texts: TeamTexts,
        mailer: Mailer | None,
        *,
        clock: Callable[[], datetime],
        digest_codes: int,
    ) -> None:
        self.store = store
        self.sender = sender  # None: no Telegram in this process (no cards there, no notices)
        self.texts = texts
        self.mailer = mailer
        self._clock = clock
        self.digest_codes = digest_codes

    @property
    def telegram(self) -> Sender:
        """The Telegram sender (only lanes that exist with one call this)."""
        assert self.sender is not None
        return self.sender

    async def team_item(self, item: OutboxItem) -> None:
        """Send an item of the team chat's lane: a card, a digest, its CSV or a reminder."""
        payload = item.payload
        if item.kind == REFERRAL_CARD:
            await self.card(str(payload.get("ref") or item.dedupe_key))
        elif item.kind == REFERRAL_DIGEST:
            await self.digest(payload.get("refs", []))
        elif item.kind == DIGEST_CSV:
            await self.digest_csv(payload.get("refs", []))
        elif item.kind == TEAM_REMINDER:
            await self.reminder(payload.get("refs", []), int(payload.get("hours", 0)))
        else:
            log.warning("outbox: unknown kind %s; dropped", item.kind)

    async def card(self, ref: str) -> None:
        """Post a referral's card once; redact it if the referral was erased meanwhile."""
        details = await self.store.referral(ref)
        if details is None:
            log.info("outbox: referral card skipped (the referral was erased)")
            return
        if details.card_message_id is not None:
            log.info("outbox: referral %s already has its card; not sent again", ref)
            return
        message_id = await self.telegram.send_card(self.texts.card(details))
        if not await self.store.set_card_message(ref, message_id):
            # erased while the card was on its way: redact it like any erased card
            await self.store.enqueue(
                CARD_REDACTION,
                f"redact:{message_id}",
                {"ref": ref, "message_id": message_id, "reason": "erased"},
            )

    async def digest(self, refs: Sequence[str]) -> None:
        """One digest card for the burst's referrals that still have no card."""
        found = await self.undelivered(refs)
        if found:
            text = self.texts.digest(found, max_codes=self.digest_codes)
            await self.telegram.send_team_text(text)

    async def digest_csv(self, refs: Sequence[str]) -> None:
        """The burst's CSV file, of the referrals that still have no card; each of them
        remembers the file, so that erasing one replaces it (``redact_digest``)."""
        found = await self.undelivered(refs)
        if found:
            message_id = await self.telegram.send_team_document(
                digest_filename(self._clock()),
                referrals_csv(found, self.texts),
                self.texts.digest_caption(len(found)),
            )
            kept = await self.store.set_digest_message([d.ref_code for d in found], message_id)
            if kept < len(found):  # erased while the file was on its way
                key = f"redact-digest:{message_id}:on-its-way"
                payload = {"message_id": message_id, "reason": "erased"}
                await self.store.enqueue(DIGEST_REDACTION, key, payload)

    async def queue_digest(self, refs: list[str]) -> None:
        """Queue one digest card and one CSV file for the team chat."""
        key = digest_key(refs)
        await self.store.enqueue(REFERRAL_DIGEST, f"digest:{key}", {"refs": refs})
        await self.store.enqueue(DIGEST_CSV, f"digest-csv:{key}", {"refs": refs})

    async def undelivered(self, refs: Sequence[str]) -> list[ReferralDetails]:
        """The referrals of a digest that still exist and have no card of their own."""
        if len(refs) > 20:  # one query for the lot (a burst is rare, its size is not)
            wanted = set(refs)
            every = [d for d in await self.store.referrals() if d.ref_code in wanted]
        else:
            every = [d for d in [await self.store.referral(ref) for ref in refs] if d]
        return [d for d in every if d.card_message_id is None]

    async def reminder(self, refs: Sequence[str], hours: int) -> None:
        """Remind the team of the referrals still not acknowledged."""
        waiting = []
        for ref in refs:
            details = await self.store.referral(ref)
            if details is not None and details.acknowledged_at is None:
                waiting.append(details)
        if not waiting:
            return
        reply_to = waiting[0].card_message_id if len(waiting) == 1 else None
        text = self.texts.reminder([d.ref_code for d in waiting], hours)
        await self.telegram.send_team_text(text, reply_to=reply_to)

    async def notice(self, item: OutboxItem) -> None:
        """Tell the patient, in their language, that the study team has their details."""
        ref = str(item.payload.get("ref", ""))
        details = await self.store.referral(ref)
        if details is None:
            return  # erased meanwhile: nobody to tell
        chat_id = item.chat_id if item.chat_id is not None else details.chat_id
        if chat_id is None:
            log.info("outbox: patient notice skipped (no chat known)")
            return
        text = patient_notice(get_catalogs().get(details.lang), ref)
        await self.telegram.send_to_person(chat_id, text)

    async def redact(self, item: OutboxItem) -> None:
        """Edit a card of a referral that no longer exists down to its reference code, or
        replace a burst's CSV file that listed one."""
        payload = item.payload
        if item.kind == DIGEST_REDACTION:
            await self.redact_digest(int(payload["message_id"]), str(payload.get("reason", "")))
            return
        ref = str(payload.get("ref", ""))
        reason = str(payload.get("reason", "erased"))
        text = redaction(self.texts, ref, reason)
        await self.telegram.redact_card(int(payload["message_id"]), text)

    async def redact_digest(self, message_id: int, reason: str) -> None:
        """Replace the CSV file ``message_id`` with one of the referrals it still lists, its
        caption saying why the others are gone."""
        kept = await self.store.referrals_in_digest(message_id)
        caption = f"{self.texts.digest_caption(len(kept))}\n{removal_reason(self.texts, reason)}"
        await self.telegram.replace_team_document(
            message_id,
            digest_filename(self._clock()),
            referrals_csv(kept, self.texts),
            caption,
        )

    async def card_edit(self, item: OutboxItem) -> None:
        """Show a status set in the web console on the card in the team chat."""
        await edit_card(self.store, self.telegram, self.texts, item.payload)

    async def email(self, item: OutboxItem) -> None:
        """Send the referral's card by e-mail to the handoff address."""
        assert self.mailer is not None
        details = await self.store.referral(str(item.payload.get("ref", "")))
        if details is None:
            return
        card = self.texts.card(details)
        await self.mailer.send(self.texts.email_subject(details), card.plain)


def digest_key(refs: Sequence[str]) -> str:
    """The dedupe key part of a burst's digest (the same refs give the same key)."""
    return hashlib.sha256(",".join(sorted(refs)).encode()).hexdigest()[:24]


def digest_filename(now: datetime) -> str:
    """A burst's CSV file name, stamped in the team's time."""
    return f"referrals-digest-{team_time(now).replace(' ', '-').replace(':', '')}.csv"


def removal_reason(texts: TeamTexts, reason: str) -> str:
    """Why a referral's details left the team chat: an erasure or the retention period."""
    t = texts.t
    if reason == "expired":
        return t.gettext("Removed: the retention period for this referral has ended.")
    return t.gettext("Erased at the patient's request.")


def redaction(texts: TeamTexts, ref: str, reason: str) -> Text:
    """What a redacted card says: the reference code and why the rest is gone, nothing else."""
    why = removal_reason(texts, reason)
    return Text(f"{ref}\n{why}", f"<b>{escape(ref)}</b>\n{escape(why)}")
