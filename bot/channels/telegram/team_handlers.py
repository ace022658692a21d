"""The study team chat's handlers: card buttons ``r|<ref>|<action>`` and ``/referrals``,
``/export``, ``/stats``.

They run in handler group -1, before the patient adapter, and stop the update there. Only
members of ``STUDY_TEAM_CHAT_ID`` (``getChatMember`` on every action) and, when
``COORDINATOR_USER_IDS`` is set, only those ids may act; anyone else is refused politely,
and the refusal goes to the audit log and the log without personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from telegram import Message, Update, User
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    filters,
)

from bot.channels.telegram.handlers import user_key
from bot.channels.telegram.team_gate import Gatekeeper
from bot.channels.telegram.team_markup import open_list_keyboard, parse_action
from bot.channels.telegram.team_sender import TelegramSender
from bot.i18n import get_catalogs, negotiate
from bot.storage.errors import StaleStatusError
from bot.storage.store import ReferralDetails, Store
from bot.team.cards import (
    LastChange,
    TeamTexts,
    Text,
    clip,
    escape,
    refused_elsewhere,
    team_time,
)
from bot.team.export import referrals_csv
from bot.team.outbox import SendError, queue_patient_notice
from bot.team.pacing import INTERACTIVE
from bot.team.stats import render_funnel
from bot.workflow import ATTEMPT, OPEN_REFERRAL_STATUSES, SHOW, allowed

log = logging.getLogger(__name__)

TEAM_GROUP = -1  # handler group: before the patient adapter's handlers (group 0)
TEAM_COMMANDS = ("referrals", "export", "stats")
ELSEWHERE = "elsewhere"  # a refusal: the command or button was used outside the team chat


def coordinator_label(user: User) -> str:
    """Return a short label for the card ("Li W."), never the user's id."""
    label = user.first_name or ""
    if user.last_name:
        label = f"{label} {user.last_name[0]}."
    if not label.strip() and user.username:
        label = f"@{user.username}"
    return clip(label.strip() or "?", 24)


class TeamHandlers:
    """The team chat's buttons and commands."""

    def __init__(
        self,
        store: Store,
        sender: TelegramSender,
        texts: TeamTexts,
        gate: Gatekeeper,
        *,
        team_chat_id: int | None,
        wake: Callable[[], None] = lambda: None,
        refusal_every: float = 600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.sender = sender
        self.texts = texts
        self.gate = gate
        self.team_chat_id = team_chat_id
        self.wake = wake
        self.refusal_every = refusal_every
        self._clock = clock
        self._told: dict[tuple[str, int], float] = {}
        self.last_changes: OrderedDict[str, LastChange] = OrderedDict()

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add the handlers in group -1, before the patient adapter's."""
        app.add_handler(CallbackQueryHandler(self.button, pattern=r"^r\|"), group=TEAM_GROUP)
        app.add_handler(
            CommandHandler(list(TEAM_COMMANDS), self.command, filters=filters.UpdateType.MESSAGE),
            group=TEAM_GROUP,
        )

    # -- refusals ----------------------------------------------------------------------

    def _may_tell(self, kind: str, ident: int) -> bool:
        """Say "refused" at most once per ``refusal_every`` seconds per user or chat."""
        now = time.monotonic()
        key = (kind, ident)
        if self._told.get(key, 0.0) > now:
            return False
        self._told[key] = now + self.refusal_every
        return True

    async def _refusal(
        self,
        doing: str,
        detail: dict[str, str],
        user: User,
        chat_id: int | None,
        audit_kind: str,
        ref: str | None = None,
    ) -> str | None:
        """Return why ``user`` may not act in ``chat_id`` (:data:`ELSEWHERE` outside the team
        chat, else the gate's reason), logged and audited without personal data; None: may act."""
        if chat_id is None or chat_id != self.team_chat_id:
            log.info("team: %s refused outside the team chat", doing)
            await self.store.audit(None, audit_kind, ref, {**detail, "where": "other"})
            return ELSEWHERE
        reason = await self.gate.refusal(user.id)
        if reason is not None:
            log.info("team: %s refused (%s)", doing, reason)
            await self.store.audit(user_key(user), audit_kind, ref, {**detail, "reason": reason})
        return reason

    # -- commands ----------------------------------------------------------------------

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or not message.text:
            raise ApplicationHandlerStop
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        refusal = await self._refusal(f"/{name}", {"command": name}, user, chat.id, "team_refused")
        if refusal == ELSEWHERE and self._may_tell("chat", chat.id):
            t = get_catalogs().get(negotiate(user.language_code))
            with contextlib.suppress(TelegramError):
                await message.reply_text(refused_elsewhere(t))
        elif refusal not in (None, ELSEWHERE) and self._may_tell("user", user.id):
            text = self.texts.refused_not_coordinator()
            with contextlib.suppress(SendError):
                await self.sender.send_team_text(
                    Text(text, escape(text)), reply_to=message.message_id, priority=INTERACTIVE
                )
        if refusal is not None:
            raise ApplicationHandlerStop
        started = time.perf_counter()
        try:
            if name == "referrals":
                await self._referrals()
            elif name == "export":
                await self._export()
            elif name == "stats":
                await self._stats()
        except SendError as exc:
            log.warning("team: /%s reply failed (%s)", name, exc.reason)
        await self.store.audit(user_key(user), "team_command", None, {"command": name})
        log.info("team: /%s answered in %.0f ms", name, (time.perf_counter() - started) * 1000)
        raise ApplicationHandlerStop

    async def _referrals(self) -> None:
        found = await self.store.referrals(OPEN_REFERRAL_STATUSES)
        await self.sender.send_team_text(
            self.texts.open_list(found), keyboard=open_list_keyboard(found), priority=INTERACTIVE
        )

    async def _export(self) -> None:
        found = await self.store.referrals()
        data = await asyncio.to_thread(referrals_csv, found, self.texts)
        now = self._clock()
        stamp = team_time(now).replace(" ", "-").replace(":", "")
        await self.sender.send_team_document(
            f"referrals-{stamp}.csv",
            data,
            self.texts.export_caption(len(found), now),
            priority=INTERACTIVE,
        )

    async def _stats(self) -> None:
        rows = await self.store.funnel()
        chart = await asyncio.to_thread(render_funnel, rows, self.texts)
        await self.sender.send_team_photo(chart.png, self.texts.stats_caption(self._clock()))

    # -- card buttons ------------------------------------------------------------------

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            raise ApplicationHandlerStop
        parsed = parse_action(query.data)
        message = query.message if isinstance(query.message, Message) else None
        chat_id = message.chat.id if message is not None else None
        if parsed is None:
            log.info("team: update %s: button data not ours", update.update_id)
            await _answer(query, None)
            raise ApplicationHandlerStop
        ref, action = parsed
        refusal = await self._refusal(
            f"{action} button", {"action": action}, user, chat_id, "referral_refused", ref
        )
        if refusal == ELSEWHERE:
            t = get_catalogs().get(negotiate(user.language_code))
            await _answer(query, refused_elsewhere(t), alert=True)
        elif refusal is not None:
            await _answer(query, self.texts.refused_not_coordinator(), alert=True)
        if refusal is not None:
            raise ApplicationHandlerStop
        try:
            await self._press(query, message, user, ref, action)
        except SendError as exc:
            log.warning("team: %s button failed (%s)", action, exc.reason)
            await _answer(query, self.texts.failed(), alert=True)
        raise ApplicationHandlerStop

    async def _press(
        self, query: object, message: Message | None, user: User, ref: str, action: str
    ) -> None:
        details = await self.store.referral(ref)
        if details is None:
            await _answer(query, self.texts.gone(), alert=True)
            if message is not None:
                with contextlib.suppress(TelegramError):
                    await message.edit_reply_markup(reply_markup=None)
            return
        if action == SHOW:
            await _answer(query, None)
            await self.show(details)
            return
        if not allowed(action, details.status, details.attempts):
            await _answer(query, self.texts.stale(), alert=True)
            await self._refresh(message, details)
            return
        actor = user_key(user)
        label = coordinator_label(user)
        if action == ATTEMPT:
            attempts = await self.store.record_contact_attempt(ref, actor)
            first = await self.store.acknowledge(ref, actor)
            last = LastChange(label, self._clock(), ATTEMPT)
            feedback = self.texts.attempt_saved(attempts)
        else:
            try:
                change = await self.store.set_referral_status(
                    ref, action, actor, expected=details.status
                )
            except StaleStatusError:
                await _answer(query, self.texts.stale(), alert=True)
                await self._refresh(message, await self.store.referral(ref))
                return
            first = change.first_acknowledgement
            last = LastChange(label, change.at, action)
            feedback = self.texts.saved(action)
        log.info("team: referral %s: %s", ref, action)
        self._remember(ref, last)
        if first:
            await self.notify_patient(details)
        await _answer(query, feedback)
        await self._refresh(message, await self.store.referral(ref))

    def _remember(self, ref: str, last: LastChange) -> None:
        self.last_changes[ref] = last
        self.last_changes.move_to_end(ref)
        while len(self.last_changes) > 2000:
            self.last_changes.popitem(last=False)

    async def _refresh(self, message: Message | None, details: ReferralDetails | None) -> None:
        if message is None or details is None:
            return
        card = self.texts.card(details, self.last_changes.get(details.ref_code))
        await self.sender.edit_card(message.chat.id, message.message_id, card)

    async def show(self, details: ReferralDetails) -> None:
        """Post a referral's card (again): from ``/referrals`` or after a digest."""
        card = self.texts.card(details, self.last_changes.get(details.ref_code))
        message_id = await self.sender.send_card(card, priority=INTERACTIVE)
        await self.store.set_card_message(details.ref_code, message_id)

    async def notify_patient(self, details: ReferralDetails) -> None:
        """Queue the patient's notice (their language, their chat) on the first acknowledgement."""
        await queue_patient_notice(self.store, details)
        self.wake()


async def _answer(query: object, text: str | None, *, alert: bool = False) -> None:
    """Answer a button press (the spinner stops); a late answer is not an error."""
    answer = getattr(query, "answer", None)
    if answer is None:
        return
    try:
        await answer(clip(text, 190) if text else None, show_alert=alert)
    except TelegramError:
        log.info("team: callback answer failed")
