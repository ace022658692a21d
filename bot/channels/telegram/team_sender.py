"""The outbox's :class:`~bot.team.outbox.Sender` in Telegram, and the team handlers' sends.

It sends with a ``Bot`` of its own that shares the patients' send pacer (one token, one cap)
but never retries a 429: it comes back to the outbox, which keeps the retry durable, instead
of pausing every patient's replies.
Everything it posts in the team chat goes through one :class:`~bot.team.pacing.Pacer` (at
most 18 messages in any minute by default), coordinators' commands before the outbox's next
card.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaDocument,
    Message,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.channels.telegram.team_markup import card_keyboard
from bot.team.cards import MAX_CAPTION, Card, Text, clip
from bot.team.outbox import SendError
from bot.team.pacing import BACKGROUND, INTERACTIVE, Pacer

log = logging.getLogger(__name__)


def _seconds(value: int | float | timedelta) -> float:
    """Return a number of seconds or a timedelta as seconds."""
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
        await self._outbox_edit(lambda chat: self._edit_text(chat, message_id, text.html, None))

    async def replace_team_document(
        self, message_id: int, filename: str, data: bytes, caption: str
    ) -> None:
        """Put a new file in a team-chat message (``editMessageMedia``; not paced: an edit
        sends no message). A message already gone counts as done."""
        # bytes, not an InputFile: PTB then uploads it as a part named by ``attach://``
        media = InputMediaDocument(data, filename=filename, caption=clip(caption, MAX_CAPTION))
        await self._outbox_edit(
            lambda chat: self.bot.edit_message_media(
                media, chat_id=chat, message_id=message_id, read_timeout=60, write_timeout=60
            )
        )

    async def update_card(self, message_id: int, card: Card) -> None:
        """The outbox's card edit (a status set in the web console): retried on errors."""
        markup = card_keyboard(card)
        await self._outbox_edit(lambda chat: self._edit_text(chat, message_id, card.html, markup))

    def _edit_text(
        self, chat_id: int, message_id: int, html: str, markup: InlineKeyboardMarkup | None
    ) -> Awaitable[Message | bool]:
        return self.bot.edit_message_text(
            html,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            disable_web_page_preview=True,
        )

    async def _outbox_edit(self, edit: Callable[[int], Awaitable[Message | bool]]) -> None:
        """Edit a team-chat message for the outbox: errors become ``SendError``s to retry;
        a message already gone or already showing the change counts as done."""
        chat_id = self.team_chat_id
        if chat_id is None:
            raise SendError("STUDY_TEAM_CHAT_ID is not set", permanent=True)
        try:
            await edit(chat_id)
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
