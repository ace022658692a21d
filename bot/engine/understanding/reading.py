"""The result of reading a typed answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.engine.answers import Measured

ReadingStatus = Literal["understood", "confirm", "unclear"]


@dataclass(frozen=True)
class Reading:
    """What a typed answer says, and how sure the bot may be of it."""

    status: ReadingStatus  # understood: take it; confirm: offer it as one tap; unclear: ask
    option: str | None = None  # choice questions: the option id read (or proposed)
    measured: Measured | None = None  # measurement questions: value canonical
    problem: str = ""  # why unclear or why confirm, a short id ("hedge", "typo", ...)
    detail: str = ""  # what to name back to the patient; never used for logging
