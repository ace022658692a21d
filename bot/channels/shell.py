"""Chat with the flow in a terminal: options are numbered, commands start with a slash.

The engine is built with ``typed=True`` (``python -m bot shell``), so its replies say "type
the number" instead of "tap". ``?`` answers "I don't know" wherever that is offered.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from bot.engine.engine import Engine
from bot.engine.events import Event, Reply
from bot.engine.flow import DONT_KNOW
from bot.engine.record import Conversation
from bot.i18n.languages import RTL_LANGUAGES

QUIT = frozenset({"/quit", "/exit"})
DONT_KNOW_KEY = "?"
RLM = "\u200f"


def show(replies: list[Reply], out: TextIO, lang: str) -> Reply | None:
    """Print replies; return the last one that asked something."""
    offered = None
    prefix = RLM if lang in RTL_LANGUAGES else ""
    for reply in replies:
        out.write("\n" + "\n".join(prefix + line for line in reply.text.splitlines()) + "\n")
        number = 0
        for choice in reply.choices:
            key, also = DONT_KNOW_KEY, ""
            if reply.expects != "number" or choice.id != DONT_KNOW:
                number += 1
                key = str(number)
                also = f" ({DONT_KNOW_KEY})" if choice.id == DONT_KNOW else ""
            out.write(f"  {key}. {prefix}{choice.label}{also}\n")
        if reply.step:
            offered = reply
    out.flush()
    return offered


def to_event(line: str, offered: Reply | None) -> Event:
    """Turn a typed line into an event: a number picks an offered option, "?" is "I don't know"."""
    text = line.strip()
    if text.startswith("/"):
        name, _, arg = text[1:].partition(" ")
        if name.lower() == "start":
            return Event.start(arg.strip())
        return Event.cmd(name.lower(), arg.strip())
    if offered is None or not offered.step:
        return Event.say(line)
    ids = [c.id for c in offered.choices]
    if text == DONT_KNOW_KEY and DONT_KNOW in ids:
        return Event.tap(offered.step, DONT_KNOW)
    numbered = [i for i in ids if offered.expects != "number" or i != DONT_KNOW]
    if offered.expects != "number" and text.isdigit() and 1 <= int(text) <= len(numbered):
        return Event.tap(offered.step, numbered[int(text) - 1])
    return Event.say(line)


def hint(engine: Engine, conv: Conversation) -> str:
    """Return the terminal's one-line hint in the patient's language."""
    t = engine.render.t(conv)
    return t.gettext(
        'Type the number of your answer. Type ? for "I don\'t know". '
        "Type /help for help, /quit to leave."
    )


def run_shell(
    engine: Engine, lang: str, read: Callable[[], str] = input, out: TextIO = sys.stdout
) -> int:
    """Run one conversation in the terminal until it ends or the user quits."""
    conv = engine.new(lang)
    prefix = RLM if conv.lang in RTL_LANGUAGES else ""
    out.write(f"({prefix}{hint(engine, conv)})\n")
    offered = show(engine.handle(conv, Event.start()).replies, out, conv.lang)
    while True:
        try:
            line = read()
        except (EOFError, KeyboardInterrupt):
            out.write("\n")
            return 0
        if line.strip().lower() in QUIT:
            return 0
        result = engine.handle(conv, to_event(line, offered))
        offered = show(result.replies, out, conv.lang) or offered
