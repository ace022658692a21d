"""Engine replies as WeChat text: numbered options a patient answers by typing."""

from __future__ import annotations

from bot.engine.events import Event, Reply
from bot.engine.flow import DONT_KNOW
from bot.i18n import Translator

DONT_KNOW_KEY = "?"
MAX_BYTES = 2048  # a text message's content limit, in UTF-8 bytes


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


def join(texts: list[str]) -> str:
    """Return texts as one message, cut to the platform's limit."""
    text = "\n\n".join(t for t in texts if t)
    data = text.encode()
    if len(data) <= MAX_BYTES:
        return text
    return data[: MAX_BYTES - 3].decode(errors="ignore") + "…"


def to_event(text: str, offered: Reply | None) -> Event:
    """Turn typed text into an event: an option's number picks it, "/help" is a command."""
    typed = text.strip()
    if typed.startswith("/"):
        name, _, arg = typed[1:].partition(" ")
        if name.lower() == "start":
            return Event.start(arg.strip())
        return Event.cmd(name.lower(), arg.strip())
    if offered is not None and offered.step:
        for key, option, _ in keys(offered):
            if typed == key or (key.isdigit() and typed == _fullwidth(key)):
                return Event.tap(offered.step, option)
    return Event.say(text)


def _fullwidth(digits: str) -> str:
    """Return digits as a Chinese keyboard may type them ("１")."""
    return "".join(chr(ord(d) + 0xFEE0) for d in digits)
