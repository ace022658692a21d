"""Engine replies as Telegram messages: escaped HTML text and inline keyboards."""

from __future__ import annotations

import json
from functools import lru_cache

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels.telegram.callbacks import answer_data as callback_data
from bot.channels.telegram.callbacks import parse_answer as parse_callback
from bot.engine.events import Reply
from bot.team.lines import escape as escape  # one escape for the patient and the team side

__all__ = [
    "callback_data",
    "chunks",
    "escape",
    "keyboard",
    "keyboard_json",
    "parse_callback",
    "question_html",
]

MAX_TEXT = 4096


def keyboard(
    reply: Reply,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """Return the reply's buttons: inline, one per row; Telegram's own button for a phone number."""
    if reply.expects == "phone":
        label = reply.choices[0].label if reply.choices else "📞"
        button = KeyboardButton(label, request_contact=True)
        return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
    if reply.clears_input and not reply.choices:
        return ReplyKeyboardRemove()
    if not reply.choices:
        return None
    rows = [
        [InlineKeyboardButton(choice.label, callback_data=callback_data(reply.step, choice.id))]
        for choice in reply.choices
    ]
    return InlineKeyboardMarkup(rows)


@lru_cache(maxsize=2048)
def keyboard_json(reply: Reply) -> str | None:
    """Return the reply's buttons as the JSON text the Bot API receives as ``reply_markup``.

    Made once per reply (replies are immutable, and the same questions are asked of
    everybody): given a keyboard object, python-telegram-bot would serialise it again on
    every send, which costs about a tenth of a send. Pass it with ``api_kwargs``.
    """
    markup = keyboard(reply)
    return None if markup is None else json.dumps(markup.to_dict())


def chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split text at line breaks so that no part is longer than Telegram allows."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def question_html(reply: Reply) -> str:
    """Return a question as HTML, with its question line in bold."""
    parts = reply.text.split("\n\n")
    if reply.kind == "question" and len(parts) >= 2:
        parts[1] = f"<b>{escape(parts[1])}</b>"
        return "\n\n".join([escape(parts[0]), parts[1], *(escape(p) for p in parts[2:])])
    return escape(reply.text)
