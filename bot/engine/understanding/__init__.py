"""How typed answers are read: what they say, and how sure the bot may be of it.

The engine asks :func:`read_choice` and :func:`read_measurement`; both return a
:class:`Reading` whose ``status`` says whether to take the answer (``understood``),
offer it back as one tap (``confirm``) or ask again (``unclear``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.engine.answers import Measured, MeasureSpec, match_choice, parse_measurement

__all__ = ["MeasureSpec", "Measured", "Reading", "ReadingStatus", "read_choice", "read_measurement"]

ReadingStatus = Literal["understood", "confirm", "unclear"]


@dataclass(frozen=True)
class Reading:
    """What a typed answer says, and how sure the bot may be of it."""

    status: ReadingStatus  # understood: take it; confirm: offer it as one tap; unclear: ask
    option: str | None = None  # choice questions: the option id read (or proposed)
    measured: Measured | None = None  # measurement questions: value canonical
    problem: str = ""  # why unclear or why confirm, a short id ("hedge", "typo", ...)
    detail: str = ""  # what to name back to the patient; never used for logging


def read_choice(text: str, options: Sequence[tuple[str, str]], lang: str) -> Reading:
    """Read a typed answer to a choice question with ``options`` (id, label)."""
    option = match_choice(text, options, lang)
    if option is None:
        return Reading("unclear", problem="no_match")
    return Reading("understood", option=option)


def read_measurement(
    text: str, spec: MeasureSpec, lang: str, forced_unit: str | None = None
) -> Reading:
    """Read a typed measurement for ``spec``; ``forced_unit`` as in parse_measurement."""
    measured = parse_measurement(text, spec, lang, forced_unit)
    if measured.status in ("ok", "unknown"):
        return Reading("understood", measured=measured)
    return Reading("unclear", measured=measured, problem=measured.status)
