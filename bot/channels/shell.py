"""Chat with the flow in a terminal: options are numbered, commands start with a slash."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from bot.engine.engine import Engine
from bot.engine.events import Event, Reply
from bot.i18n.languages import RTL_LANGUAGES

QUIT = frozenset({"/quit", "/exit"})
RLM = "\u200f"


def show(replies: list[Reply], out: TextIO, lang: str) -> Reply | None:
    """Print replies; return the last one that asked something."""
    offered = None
    prefix = RLM if lang in RTL_LANGUAGES else ""
    for reply in replies:
        out.write("\n" + "\n".join(prefix + line for line in reply.text.splitlines()) + "\n")
        for number, choice in enumerate(reply.choices, start=1):
            key = "?" if reply.expects == "number" else str(number)
            out.write(f"  {key}. {prefix}{choice.label}\n")
        if reply.step:
            offered = reply
    out.flush()
    return offered


def to_event(line: str, offered: Reply | None) -> Event:
    """Turn a typed line into an event: a number picks an offered option, "?" is "I don't know"."""
    text = line.strip()
    if text.startswith("/"):
        name, _, arg = text[1:].partition(" ")
        return Event.cmd(name.lower(), arg.strip())
    if offered is not None and offered.expects == "choice" and text.isdigit():
        index = int(text) - 1
        if 0 <= index < len(offered.choices):
            return Event.tap(offered.step, offered.choices[index].id)
    if offered is not None and offered.expects == "number" and text == "?" and offered.choices:
        return Event.tap(offered.step, offered.choices[0].id)
    return Event.say(line)


def run_shell(
    engine: Engine, lang: str, read: Callable[[], str] = input, out: TextIO = sys.stdout
) -> int:
    """Run one conversation in the terminal until it ends or the user quits."""
    conv = engine.new(lang)
    out.write("(type /quit to leave, /help for help)\n")
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
