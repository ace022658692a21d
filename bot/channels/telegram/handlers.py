"""Telegram handlers: translate updates into engine events and replies into messages."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import (
    BotCommand,
    CallbackQuery,
    LinkPreviewOptions,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot import crashpoints
from bot.channels.telegram.markup import (
    chunks,
    escape,
    keyboard_json,
    parse_callback,
    question_html,
)
from bot.conversations import TELEGRAM, Conversations, Inbound, log_handled, person_key
from bot.engine.events import OTHER_EDITED, Event, Reply, Result
from bot.i18n import LANGUAGES, N_, get_catalogs, negotiate
from bot.ratelimit import FloodGuard

log = logging.getLogger(__name__)

# A deep-link payload: "<source>" or "<source>__<lang>", e.g. "flyer-sh01__zh-Hant".
PAYLOAD = re.compile(r"^(?P<source>[A-Za-z0-9-]{1,40})(?:__(?P<lang>[A-Za-z-]{2,10}))?$")
NO_PREVIEW = json.dumps(LinkPreviewOptions(is_disabled=True).to_dict())  # as the Bot API gets it
SEND_BACKOFF = (0.2, 0.5, 1.0, 2.0, 0.0)  # pauses between attempts to send one reply
COMMANDS = ("start", "language", "back", "restart", "help", "faq", "privacy", "delete")


def parse_payload(payload: str) -> tuple[str, str]:
    """Return ``(source, language)`` from a deep-link payload; invalid parts are dropped."""
    match = PAYLOAD.match(payload or "")
    if not match:
        return "", ""
    lang = match.group("lang") or ""
    negotiated = negotiate(lang) if lang else ""
    if lang and negotiated == "en" and not lang.lower().startswith("en"):
        negotiated = ""
    return match.group("source").lower(), negotiated


def user_key(user: User) -> str:
    """Return the channel-qualified user id the store hashes."""
    return person_key(TELEGRAM, user.id)


class TelegramChannel:
    """Handlers for private chats, groups and taps, sharing one Conversations service."""

    def __init__(
        self,
        conversations: Conversations,
        team_chat_id: int | None = None,
        flood: FloodGuard | None = None,
    ) -> None:
        self.conversations = conversations
        self.team_chat_id = team_chat_id
        self.flood = flood or FloodGuard()
        # Called with the update as soon as its replies went out (the receipt's done mark).
        self.on_replied: Callable[[Update], Awaitable[None]] | None = None

    # -- inbound -----------------------------------------------------------------------

    def _inbound(self, update: Update, source: str = "", lang: str = "") -> Inbound:
        user = update.effective_user
        chat = update.effective_chat
        assert user is not None and chat is not None
        return Inbound(
            user_key=user_key(user),
            chat_id=chat.id,
            update_id=update.update_id,
            lang_hint=lang or user.language_code or "",
            source=source,
        )

    async def _run(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, event: Event, inbound: Inbound
    ) -> Result | None:
        started = time.perf_counter()
        user = update.effective_user
        chat_id = inbound.chat_id
        if chat_id is not None and not await self._pace(update, context, event, inbound, chat_id):
            return None
        if user is not None:
            event = replace(event, profile_name=user.full_name or "", username=user.username or "")
        result = await self.conversations.handle(inbound, event)
        crashpoints.reached("committed", event.kind)
        if result is None:
            # Handled before, by a process that stopped before its replies went out: show
            # where the conversation stands (nothing is changed or asked twice).
            log.info(
                "update %s: handled before a restart; current question sent again", update.update_id
            )
            result = await self.conversations.prompt(inbound)
        chat = update.effective_chat
        assert chat is not None
        for reply in result.replies:
            await self.send(context, chat.id, reply)
        if self.on_replied is not None:
            await self.on_replied(update)
        if chat_id is not None:
            self.flood.reask_due(chat_id)  # these replies show the current question already
        log_handled("update", update.update_id, event.kind, started, result)
        return result

    async def _pace(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        event: Event,
        inbound: Inbound,
        chat_id: int,
    ) -> bool:
        """Slow a quick person down; set a real flood's text aside. False: not handled."""
        if self.flood.set_aside(chat_id, update.update_id, event.kind):
            log.info("update %s: set aside in a flood", update.update_id)
            t = get_catalogs().get(negotiate(inbound.lang_hint))
            if self.flood.note_due(chat_id):
                note = t.gettext(
                    "You are sending messages very fast. Please wait a moment, then go on."
                )
                await context.bot.send_message(chat_id, escape(note), parse_mode=ParseMode.HTML)
            if self.flood.reask_due(chat_id):
                for reply in (await self.conversations.prompt(inbound)).replies:
                    await self.send(context, chat_id, reply)
            return False
        wait = self.flood.delay(chat_id)
        if wait > 0:
            log.info("update %s: paced, %.1f s", update.update_id, wait)
            await asyncio.sleep(wait)
        return True

    async def send(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
        """Send one engine reply: escaped HTML, its buttons on the last part."""
        parts = chunks(question_html(reply))
        markup = keyboard_json(reply)
        for index, part in enumerate(parts):
            wire = {"link_preview_options": NO_PREVIEW}  # both already JSON text
            if markup is not None and index == len(parts) - 1:
                wire["reply_markup"] = markup
            for attempt, pause in enumerate(SEND_BACKOFF):
                try:
                    await context.bot.send_message(
                        chat_id, part, parse_mode=ParseMode.HTML, api_kwargs=wire
                    )
                    break
                except BadRequest:
                    raise
                except NetworkError:  # 5xx, timeouts, dropped connections (429 is the limiter's)
                    if attempt == len(SEND_BACKOFF) - 1:
                        raise
                    await asyncio.sleep(pause)

    # -- private chats -------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greet, reading an outreach source and a language from the deep-link payload."""
        source, lang = parse_payload(context.args[0] if context.args else "")
        if context.args and not source:
            log.info("update %s: deep-link payload rejected", update.update_id)
        await self._run(update, context, Event.start(lang), self._inbound(update, source, lang))

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass /back, /restart, /help, /language, /faq, /privacy and /delete to the engine."""
        message = update.effective_message
        assert message is not None and message.text is not None
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        arg = context.args[0] if context.args else ""
        await self._run(update, context, Event.cmd(name, arg), self._inbound(update))

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass typed text to the engine."""
        message = update.effective_message
        assert message is not None
        await self._run(update, context, Event.say(message.text or ""), self._inbound(update))

    async def contact(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a phone number shared with Telegram's button to the engine."""
        message = update.effective_message
        assert message is not None and message.contact is not None
        event = Event.contact(message.contact.phone_number or "")
        await self._run(update, context, event, self._inbound(update))

    async def unreadable(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer stickers, photos, voice, locations, files and edits politely."""
        what = OTHER_EDITED if update.edited_message else "media"
        await self._run(update, context, Event.other(what), self._inbound(update))

    async def tap(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a tapped button to the engine, then edit its message to show the choice."""
        query = update.callback_query
        assert query is not None
        parsed = parse_callback(query.data)
        try:
            await query.answer()
        except TelegramError:
            log.info("update %s: callback answer failed", update.update_id)
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:  # a patient's turn only in their chat
            log.info("update %s: tap outside a private chat ignored", update.update_id)
            return
        step, option = parsed if parsed else ("", "")
        if parsed is None:
            log.info("update %s: callback data not ours", update.update_id)
        event = Event.tap(step, option)
        result = await self._run(update, context, event, self._inbound(update))
        if result is not None and isinstance(query.message, Message):
            await self._mark_choice(query, query.message, accepted=_accepted(result, step))

    async def _mark_choice(self, query: CallbackQuery, message: Message, *, accepted: bool) -> None:
        label = None
        if accepted and message.reply_markup is not None:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == query.data:
                        label = button.text
        try:
            if label is not None and message.text:
                await message.edit_text(
                    f"{escape(message.text)}\n\n→ <b>{escape(label)}</b>",
                    parse_mode=ParseMode.HTML,
                    reply_markup=None,
                )
            else:
                await message.edit_reply_markup(reply_markup=None)
        except BadRequest:
            pass  # already edited, or too old to edit: the chat stays readable either way

    # -- groups ----------------------------------------------------------------------------

    async def group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say once per group that screening is private, with a link to a private chat."""
        chat = update.effective_chat
        if chat is None or chat.id == self.team_chat_id:
            return
        told: set[int] = context.bot_data.setdefault("groups_told", set())
        if chat.id in told:
            return
        told.add(chat.id)
        user = update.effective_user
        t = get_catalogs().get(negotiate(user.language_code if user else ""))
        link = f"https://t.me/{context.bot.username}?start=group"
        text = t.gettext(
            "Hello! The screening questions are private, so I only ask them in a private chat. "
            "Tap here to start: {link}",
            link=link,
        )
        await context.bot.send_message(chat.id, escape(text), parse_mode=ParseMode.HTML)


def _accepted(result: Result, step: str) -> bool:
    """Return True when the tap was taken as an answer (not refused as stale or forged)."""
    return bool(result.replies) and result.replies[0].kind != "error" and bool(step)


def command_menus() -> list[tuple[str | None, list[BotCommand]]]:
    """Return the command menu per Telegram language code (None: the default, English)."""
    catalogs = get_catalogs()
    descriptions = {
        "start": N_("Start the screening"),
        "language": N_("Change the language"),
        "back": N_("Change your last answer"),
        "restart": N_("Start again"),
        "help": N_("How this works"),
        "faq": N_("Questions people often ask"),
        "privacy": N_("What we keep and why"),
        "delete": N_("Erase everything about me"),
    }
    menus: list[tuple[str | None, list[BotCommand]]] = []
    codes: dict[str | None, str] = {None: "en"}
    for lang in LANGUAGES:
        codes.setdefault(lang.split("-")[0], lang)
    for code, lang in codes.items():
        t = catalogs.get(lang)
        menus.append((code, [BotCommand(name, t.gettext(descriptions[name])) for name in COMMANDS]))
    return menus
