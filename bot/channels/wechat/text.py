"""Engine replies as WeChat text: numbered options a patient answers by typing, clickable
menus (``msgmenu``) where the account may send them, and long texts split into parts."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from bot.engine.events import Event, Reply
from bot.engine.flow import DONT_KNOW
from bot.i18n import N_, Translator

DONT_KNOW_KEY = "?"
MAX_BYTES = 2048  # a text message's content limit, in UTF-8 bytes
PART_BYTES = 2000  # what one part holds: a margin below the limit
MORE_KEY = "0"  # typed to see the rest of a long turn (no customer-service messages)
#: The documented limits of a menu message (菜单消息), in UTF-8 bytes.
MENU_HEAD_BYTES, MENU_ITEMS, MENU_ITEM_BYTES = 1024, 10, 128
MENU_TAIL = N_("Tap your answer, or type its number.")
MORE = N_("(More follows: reply 0 to see it.)")
SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")


@dataclass(frozen=True)
class Menu:
    """A menu message: the question, the clickable answers ``(id, content)``, a last line."""

    head: str
    items: tuple[tuple[str, str], ...]
    tail: str

    def as_text(self) -> str:
        """Return the menu as numbered text (when it cannot be sent as a menu)."""
        return "\n".join([self.head, *(content for _, content in self.items)])


Part = str | Menu  # one message for the person


def keys(reply: Reply) -> list[tuple[str, str, str]]:
    """Return ``(key typed, option id, label)`` for every option of a reply."""
    found: list[tuple[str, str, str]] = []
    number = 0
    for choice in reply.choices:
        if reply.expects == "number" and choice.id == DONT_KNOW:
            found.append((DONT_KNOW_KEY, choice.id, choice.label))
        elif choice.id != "share_phone":
            number += 1
            found.append((str(number), choice.id, choice.label))
    return found


def render(reply: Reply, t: Translator) -> str:
    """Return one reply as text, each option as "Reply 1 = Yes"."""
    lines = [reply.text]
    for key, _, label in keys(reply):
        lines.append(t.gettext("Reply {number} = {option}", number=key, option=label))
    return "\n".join(lines)


def menu_id(step: str, option: str) -> str:
    """Return the digits that name one option of one step in a menu message."""
    digest = hashlib.blake2b(f"{step}\n{option}".encode(), digest_size=6).digest()
    return str(int.from_bytes(digest, "big"))


def menu(reply: Reply, t: Translator) -> Menu | None:
    """Return a reply's options as a menu message, or None when it has none or cannot fit."""
    found = keys(reply)
    if not found or not reply.step:
        return None
    items = tuple(
        (
            menu_id(reply.step, option),
            t.gettext("Reply {number} = {option}", number=k, option=label),
        )
        for k, option, label in found
    )
    if (
        len(reply.text.encode()) > MENU_HEAD_BYTES
        or len(items) > MENU_ITEMS
        or any(len(content.encode()) > MENU_ITEM_BYTES for _, content in items)
    ):
        return None
    return Menu(reply.text, items, t.gettext(MENU_TAIL))


def parts(rendered: list[Part], limit: int = PART_BYTES) -> list[Part]:
    """Return the messages of one turn: texts joined while they fit, long texts split."""
    out: list[Part] = []
    for part in rendered:
        if isinstance(part, Menu):
            out.append(part)
            continue
        for piece in split(part, limit):
            last = out[-1] if out else None
            if isinstance(last, str) and len(f"{last}\n\n{piece}".encode()) <= limit:
                out[-1] = f"{last}\n\n{piece}"
            else:
                out.append(piece)
    return [p for p in out if p]


def split(text: str, limit: int = PART_BYTES) -> list[str]:
    """Return text cut into parts of at most ``limit`` bytes, at paragraphs, lines or
    sentences when it can be (between characters only for one over-long sentence)."""
    if len(text.encode()) <= limit:
        return [text] if text else []
    for separator, pieces in (
        ("\n\n", text.split("\n\n")),
        ("\n", text.split("\n")),
        ("", [s for s in SENTENCE.split(text) if s]),
    ):
        if len(pieces) > 1:
            return _pack(pieces, separator, limit)
    return _cut(text, limit)


def _pack(pieces: list[str], separator: str, limit: int) -> list[str]:
    """Join pieces while they fit; split further a piece that alone does not."""
    out: list[str] = []
    for piece in pieces:
        for small in split(piece, limit):
            joined = f"{out[-1]}{separator or ' '}{small}" if out else small
            if out and len(joined.encode()) <= limit:
                out[-1] = joined
            else:
                out.append(small)
    return out


def _cut(text: str, limit: int) -> list[str]:
    """Cut between characters (never inside one)."""
    out, current = [], ""
    for char in text:
        if len((current + char).encode()) > limit:
            out.append(current)
            current = ""
        current += char
    return [*out, current] if current else out


def to_event(text: str, offered: Reply | None, clicked: str = "") -> Event:
    """Turn typed text into an event: an option's number picks it, "/help" is a command.

    ``clicked`` is the menu id of a menu answer; one not from the question asked now
    comes back as a tap on an unknown step, which the engine answers as a stale button.
    """
    if clicked:
        if offered is not None and offered.step:
            for _, option, _ in keys(offered):
                if menu_id(offered.step, option) == clicked:
                    return Event.tap(offered.step, option)
        return Event.tap(f"menu:{clicked}", clicked)
    typed = text.strip()
    if typed.startswith("/"):
        name, _, arg = typed[1:].partition(" ")
        if name.lower() == "start":
            return Event.start(arg.strip())
        return Event.cmd(name.lower(), arg.strip())
    if offered is not None and offered.step:
        for key, option, _ in keys(offered):
            if typed == key or (key.isdigit() and typed == fullwidth(key)):
                return Event.tap(offered.step, option)
    return Event.say(text)


def fullwidth(digits: str) -> str:
    """Return digits as a Chinese keyboard may type them ("１")."""
    return "".join(chr(ord(d) + 0xFEE0) for d in digits)
