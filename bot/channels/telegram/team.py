"""The study team's side in Telegram: the outbox's sender, the team chat's buttons and commands.

* :class:`TelegramSender` implements :class:`bot.team.outbox.Sender` on a ``Bot`` of its
  own (no ``AIORateLimiter``: a 429 must come back to the outbox, which keeps the retry
  durable, instead of pausing every patient's replies). Everything it posts in the team chat
  goes through one :class:`~bot.team.pacing.Pacer` (at most 18 messages in any minute by
  default), coordinators' commands before the outbox's next card.
* :class:`TeamHandlers`: card buttons ``r|<ref>|<action>`` and ``/referrals``, ``/export``,
  ``/stats``. They run in handler group -1, before the patient adapter, and stop the update
  there. Only members of ``STUDY_TEAM_CHAT_ID`` (``getChatMember`` on every action) and,
  when ``COORDINATOR_USER_IDS`` is set, only those ids may act; anyone else is refused
  politely, and the refusal goes to the audit log and the log without personal data.
* :class:`TeamSide` builds all of it for ``serve()``: ``register(app)`` before the
  application starts, ``start()`` after (the outbox worker and the reminder task),
  ``stop()`` at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.config import Settings
from bot.i18n import LANGUAGES, get_catalogs, negotiate
from bot.storage.errors import StaleStatusError
from bot.storage.models import OPEN_REFERRAL_STATUSES, REFERRAL_STATUSES
from bot.storage.store import ReferralDetails, Store
from bot.team.cards import (
    ATTEMPT,
    MAX_CAPTION,
    SHOW,
    Card,
    LastChange,
    TeamTexts,
    Text,
    allowed,
    clip,
    escape,
    refused_elsewhere,
    team_time,
)
from bot.team.export import referrals_csv
from bot.team.mailer import SmtpMailer
from bot.team.outbox import (
    OutboxWorker,
    SendError,
    WorkerOptions,
    queue_patient_notice,
    remind_every,
)
from bot.team.pacing import BACKGROUND, INTERACTIVE, Pacer
from bot.team.stats import render_funnel

log = logging.getLogger(__name__)

TEAM_GROUP = -1  # handler group: before the patient adapter's handlers (group 0)
TEAM_COMMANDS = ("referrals", "export", "stats")
MAX_CALLBACK_BYTES = 64
_CALLBACK = re.compile(r"^r\|(CZ-[0-9A-Z]{4}-[0-9A-Z]{4})\|([a-z_]{1,20})$")
ACTIONS = frozenset({*REFERRAL_STATUSES, ATTEMPT, SHOW})
MEMBER_STATUSES = frozenset(
    {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)


def callback_data(ref: str, action: str) -> str:
    """A card button's data: ``r|<ref>|<action>`` (at most 64 bytes)."""
    data = f"r|{ref}|{action}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def parse_callback(data: str | None) -> tuple[str, str] | None:
    """``(ref, action)`` from a card button, or None for anything else."""
    match = _CALLBACK.match(data or "")
    if match is None or match.group(2) not in ACTIONS:
        return None
    return match.group(1), match.group(2)


def card_keyboard(card: Card) -> InlineKeyboardMarkup | None:
    """The card's buttons, two to a row."""
    buttons = [
        InlineKeyboardButton(b.label, callback_data=callback_data(card.ref, b.action))
        for b in card.buttons
    ]
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def coordinator_label(user: User) -> str:
    """A short label for the card ("Li W."), never the user's id."""
    label = user.first_name or ""
    if user.last_name:
        label = f"{label} {user.last_name[0]}."
    if not label.strip() and user.username:
        label = f"@{user.username}"
    return clip(label.strip() or "?", 24)


def user_key(user: User) -> str:
    return f"tg:{user.id}"


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def retry_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds (an int today, a timedelta in PTB's next major version)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(exc.retry_after)


def send_error(exc: TelegramError) -> SendError:
    """Translate a Bot API failure for the outbox (the reason holds no personal data)."""
    if isinstance(exc, RetryAfter):
        return SendError("429 Too Many Requests", retry_after=retry_seconds(exc))
    if isinstance(exc, (Forbidden, InvalidToken)):
        return SendError(f"{type(exc).__name__}: {exc.message}", permanent=True)
    if isinstance(exc, BadRequest):
        return SendError(f"BadRequest: {exc.message}", permanent=True)
    return SendError(f"{type(exc).__name__}: {exc.message}")


class TelegramSender:
    """The outbox's :class:`~bot.team.outbox.Sender`, and the team handlers' sends."""

    def __init__(
        self, bot: Bot, team_chat_id: int | None, *, team_pacer: Pacer, people_pacer: Pacer
    ) -> None:
        self.bot = bot
        self.team_chat_id = team_chat_id
        self.team_pacer = team_pacer
        self.people_pacer = people_pacer

    async def _team(self, call: Callable[[int], Awaitable[Message]], priority: int) -> int:
        chat_id = self.team_chat_id
        if chat_id is None:
            raise SendError("STUDY_TEAM_CHAT_ID is not set", permanent=True)
        async with self.team_pacer.slot(priority):
            try:
                message = await call(chat_id)
            except RetryAfter as exc:
                self.team_pacer.block(retry_seconds(exc))
                raise send_error(exc) from None
            except TelegramError as exc:
                raise send_error(exc) from None
        return message.message_id

    async def send_card(self, card: Card, *, priority: int = BACKGROUND) -> int:
        return await self._team(
            lambda chat: self.bot.send_message(
                chat,
                card.html,
                parse_mode=ParseMode.HTML,
                reply_markup=card_keyboard(card),
                disable_web_page_preview=True,
            ),
            priority,
        )

    async def send_team_text(
        self,
        text: Text,
        *,
        reply_to: int | None = None,
        keyboard: InlineKeyboardMarkup | None = None,
        priority: int = BACKGROUND,
    ) -> int:
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        return await self._team(
            lambda chat: self.bot.send_message(
                chat,
                text.html,
                parse_mode=ParseMode.HTML,
                reply_parameters=reply,
                reply_markup=keyboard,
                disable_web_page_preview=True,
            ),
            priority,
        )

    async def send_team_document(
        self, filename: str, data: bytes, caption: str, *, priority: int = BACKGROUND
    ) -> int:
        return await self._team(
            lambda chat: self.bot.send_document(
                chat,
                InputFile(data, filename=filename),
                caption=clip(caption, MAX_CAPTION),
                read_timeout=60,
                write_timeout=60,
            ),
            priority,
        )

    async def send_team_photo(
        self, data: bytes, caption: str, *, priority: int = INTERACTIVE
    ) -> int:
        return await self._team(
            lambda chat: self.bot.send_photo(
                chat,
                InputFile(data, filename="funnel.png"),
                caption=clip(caption, MAX_CAPTION),
                read_timeout=60,
                write_timeout=60,
            ),
            priority,
        )

    async def send_to_person(self, chat_id: int, text: str) -> None:
        async with self.people_pacer.slot():
            try:
                await self.bot.send_message(chat_id, text, disable_web_page_preview=True)
            except RetryAfter as exc:
                self.people_pacer.block(retry_seconds(exc))
                raise send_error(exc) from None
            except TelegramError as exc:
                raise send_error(exc) from None

    async def redact_card(self, message_id: int, text: Text) -> None:
        """Edit a card down to ``text`` without buttons (edits are not paced: they do not
        count against the group limit). A card already gone or already redacted is done."""
        chat_id = self.team_chat_id
        if chat_id is None:
            raise SendError("STUDY_TEAM_CHAT_ID is not set", permanent=True)
        try:
            await self.bot.edit_message_text(
                text.html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML
            )
        except BadRequest as exc:
            if not any(s in exc.message for s in ("not modified", "not found")):
                raise send_error(exc) from None
        except TelegramError as exc:
            raise send_error(exc) from None

    async def update_card(self, message_id: int, card: Card) -> None:
        """The outbox's card edit (a status set in the web console): retried on errors."""
        chat_id = self.team_chat_id
        if chat_id is None:
            raise SendError("STUDY_TEAM_CHAT_ID is not set", permanent=True)
        try:
            await self.bot.edit_message_text(
                card.html,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=card_keyboard(card),
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if not any(s in exc.message for s in ("not modified", "not found")):
                raise send_error(exc) from None
        except TelegramError as exc:
            raise send_error(exc) from None

    async def edit_card(self, chat_id: int, message_id: int, card: Card) -> None:
        """Show a card's new state in place (edits do not count against the group limit)."""
        try:
            await self.bot.edit_message_text(
                card.html,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=card_keyboard(card),
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if "not modified" not in exc.message:
                log.info("team: card not edited (%s)", exc.message)
        except TelegramError as exc:
            log.warning("team: card not edited (%s)", type(exc).__name__)


class Gatekeeper:
    """Who may act: members of the team chat, and only the listed ids when there is a list.

    Membership is asked of Telegram on every action (nothing is cached), so a coordinator
    removed from the team chat loses access at once. Presses are few; one getChatMember each
    is cheap next to the edit that follows."""

    def __init__(
        self, bot: Bot, team_chat_id: int | None, allowed_ids: Collection[int] = ()
    ) -> None:
        self.bot = bot
        self.team_chat_id = team_chat_id
        self.allowed_ids = frozenset(allowed_ids)

    async def refusal(self, user_id: int) -> str | None:
        """None when the user may act, else why not (``not_listed``, ``not_member``, ...)."""
        if self.team_chat_id is None:
            return "no_team_chat"
        if self.allowed_ids and user_id not in self.allowed_ids:
            return "not_listed"
        try:
            member = await self.bot.get_chat_member(self.team_chat_id, user_id)
        except TelegramError as exc:
            log.warning("team: membership check failed (%s)", type(exc).__name__)
            return "check_failed"
        ok = member.status in MEMBER_STATUSES or (
            member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", 0))
        )
        return None if ok else "not_member"


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

    # -- commands ----------------------------------------------------------------------

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or not message.text:
            raise ApplicationHandlerStop
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        if chat.id != self.team_chat_id:
            log.info("team: /%s refused outside the team chat (%s)", name, chat.type)
            await self.store.audit(None, "team_refused", None, {"command": name, "where": "other"})
            if self._may_tell("chat", chat.id):
                t = get_catalogs().get(negotiate(user.language_code))
                with contextlib.suppress(TelegramError):
                    await message.reply_text(refused_elsewhere(t))
            raise ApplicationHandlerStop
        reason = await self.gate.refusal(user.id)
        if reason is not None:
            log.info("team: /%s refused (%s)", name, reason)
            await self.store.audit(
                user_key(user), "team_refused", None, {"command": name, "reason": reason}
            )
            if self._may_tell("user", user.id):
                text = self.texts.refused_not_coordinator()
                with contextlib.suppress(SendError):
                    await self.sender.send_team_text(
                        Text(text, escape(text)), reply_to=message.message_id, priority=INTERACTIVE
                    )
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
        text = self.texts.open_list(found)
        buttons = [
            InlineKeyboardButton(r.ref_code, callback_data=callback_data(r.ref_code, SHOW))
            for r in found[:20]
        ]
        keyboard = (
            InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
            if buttons
            else None
        )
        await self.sender.send_team_text(text, keyboard=keyboard, priority=INTERACTIVE)

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
        parsed = parse_callback(query.data)
        message = query.message if isinstance(query.message, Message) else None
        chat_id = message.chat.id if message is not None else None
        if parsed is None:
            log.info("team: update %s: button data not ours", update.update_id)
            await _answer(query, None)
            raise ApplicationHandlerStop
        ref, action = parsed
        if chat_id is None or chat_id != self.team_chat_id:
            log.info("team: %s button refused outside the team chat", action)
            detail = {"action": action, "where": "other"}
            await self.store.audit(None, "referral_refused", ref, detail)
            t = get_catalogs().get(negotiate(user.language_code))
            await _answer(query, refused_elsewhere(t), alert=True)
            raise ApplicationHandlerStop
        reason = await self.gate.refusal(user.id)
        if reason is not None:
            log.info("team: %s button refused (%s)", action, reason)
            await self.store.audit(
                user_key(user), "referral_refused", ref, {"action": action, "reason": reason}
            )
            await _answer(query, self.texts.refused_not_coordinator(), alert=True)
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


def warm_locales() -> None:
    """Load Babel's number data for every language now (about 0.1 s), not while the first
    patient, or the first notice, waits for it."""
    catalogs = get_catalogs()
    for lang in LANGUAGES:
        catalogs.get(lang).number(1.5)


async def _warm_charts() -> None:
    """Import matplotlib and find the CJK font in a thread, so the first /stats is quick."""

    def warm() -> None:
        from matplotlib.figure import Figure  # noqa: F401

        from bot.team.stats import cjk_font

        cjk_font()

    try:
        await asyncio.to_thread(warm)
    except Exception:
        log.warning("team: chart warm-up failed", exc_info=True)


@dataclass
class TeamOptions:
    """Timings of the team side; the defaults suit Telegram, tests make them short."""

    worker: WorkerOptions = field(default_factory=WorkerOptions)
    team_per_minute: int = 18  # Telegram allows about 20 messages a minute to a group
    team_window: float = 60.0
    team_min_interval: float = 3.0
    people_per_second: int = 25  # Telegram allows about 30 a second overall
    reminder_every: float = 300.0
    refusal_every: float = 600.0


class TeamSide:
    """Everything of the study team's side that ``serve()`` wires."""

    def __init__(
        self, settings: Settings, store: Store, options: TeamOptions | None = None
    ) -> None:
        from bot.channels.telegram.app import check_token

        self.settings = settings
        self.store = store
        self.options = options or TeamOptions()
        opts = self.options
        self.bot = Bot(
            check_token(settings),
            base_url=settings.telegram_base_url,
            base_file_url=settings.telegram_base_url.replace("/bot", "/file/bot"),
            request=HTTPXRequest(
                connection_pool_size=8, connect_timeout=10, read_timeout=20, write_timeout=20
            ),
        )
        team_chat = settings.study_team_chat_id
        self.team_pacer = Pacer(opts.team_per_minute, opts.team_window, opts.team_min_interval)
        self.people_pacer = Pacer(opts.people_per_second, 1.0)
        self.texts = TeamTexts(settings.team_language)
        warm_locales()
        self.sender = TelegramSender(
            self.bot, team_chat, team_pacer=self.team_pacer, people_pacer=self.people_pacer
        )
        self.worker = OutboxWorker(
            store,
            self.sender,
            self.texts,
            team_pacer=self.team_pacer if team_chat is not None else None,
            mailer=SmtpMailer.from_settings(settings),
            options=opts.worker,
        )
        self.gate = Gatekeeper(self.bot, team_chat, settings.coordinator_user_ids)
        self.handlers = TeamHandlers(
            store,
            self.sender,
            self.texts,
            self.gate,
            team_chat_id=team_chat,
            wake=self.worker.wake,
            refusal_every=opts.refusal_every,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        self.handlers.register(app)

    async def start(self) -> None:
        """Start the outbox worker and the reminders (after the application started)."""
        await self.bot.initialize()
        await self._command_menu()
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="outbox"),
            asyncio.create_task(
                remind_every(
                    self.store,
                    self.settings.handoff_reminder_hours,
                    self.options.reminder_every,
                    on_queued=self.worker.wake,
                ),
                name="reminders",
            ),
        ]
        self._tasks.append(asyncio.create_task(_warm_charts(), name="chart warm-up"))
        log.info("team side running (worker %s)", self.worker.worker_id)

    async def _command_menu(self) -> None:
        chat = self.settings.study_team_chat_id
        if chat is None:
            return
        t = self.texts.t
        commands = [
            BotCommand("referrals", t.gettext("Open referrals")),
            BotCommand("export", t.gettext("All referrals as a CSV file")),
            BotCommand("stats", t.gettext("Screening funnel chart")),
        ]
        try:
            await self.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat))
        except TelegramError as exc:
            log.warning("team: command menu not set (%s)", type(exc).__name__)

    async def stop(self, grace: float = 10.0) -> None:
        """Let the outbox finish the item it is sending (claimed items are given back),
        cancel the other tasks, and close the bot."""
        self.worker.stop()
        outbox = [t for t in self._tasks if t.get_name() == "outbox"]
        if outbox:
            await asyncio.wait(outbox, timeout=grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception:
                    log.exception("team: %s task failed", task.get_name())
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

    @property
    def tasks(self) -> Sequence[asyncio.Task[None]]:
        return tuple(self._tasks)
