"""Plain and HTML text for the study team's messages: lines, escaping, lengths, times.

A :class:`Text` is a message twice, as plain text (e-mail, length checks) and as HTML for
Telegram's ``parse_mode=HTML``. Every line is escaped as a whole after the patient's values
were put in, so a name such as ``李 <b>&*`` arrives as text. Telegram counts a message's
length after the HTML is parsed, in UTF-16 code units: :data:`MAX_TEXT` applies to ``plain``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

#: The team works in Shanghai (China has no daylight saving time): times are shown there.
TEAM_TZ = timezone(timedelta(hours=8), "UTC+8")
MAX_TEXT = 4096  # Telegram's limit on a message, in UTF-16 code units after parsing
MAX_CAPTION = 1024


@dataclass(frozen=True)
class Text:
    """A message as plain text and as escaped HTML (one ``<b>`` per bold line)."""

    plain: str
    html: str


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"


def team_time(moment: datetime) -> str:
    """A time as the team reads it (Shanghai time)."""
    return moment.astimezone(TEAM_TZ).strftime("%Y-%m-%d %H:%M")


class Lines:
    """Lines of a message, each plain text; bold lines become ``<b>`` in the HTML."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bool]] = []

    def add(self, text: str, *, bold: bool = False) -> None:
        self.items.append((text, bold))

    def gap(self) -> None:
        if self.items and self.items[-1][0]:
            self.items.append(("", False))

    def text(self) -> Text:
        plain = "\n".join(text for text, _ in self.items).strip("\n")
        marked = "\n".join(
            f"<b>{escape(text)}</b>" if bold and text else escape(text) for text, bold in self.items
        ).strip("\n")
        return Text(plain, marked)


def escape(text: str) -> str:
    """Escape text for Telegram's HTML."""
    return html.escape(text, quote=False)
