"""How typed answers are read: what they say, and how sure the bot may be of it.

The engine asks :func:`read_choice` and :func:`read_measurement`; both return a
:class:`Reading` whose ``status`` says whether to take the answer (``understood``),
offer it back as one tap (``confirm``) or ask again (``unclear``).

The steps: normalise (``text``), split off lead-ins and bounds and read number words
(``measure``, ``numbers``), read yes/no clause by clause or find the option named
(``choice``), then decide. The words of each language are data in ``words/``.
"""

from __future__ import annotations

from bot.engine.answers import Measured, MeasureSpec
from bot.engine.understanding.choice import read_choice
from bot.engine.understanding.measure import read_measurement
from bot.engine.understanding.reading import Reading, ReadingStatus

__all__ = [
    "MeasureSpec",
    "Measured",
    "Reading",
    "ReadingStatus",
    "read_choice",
    "read_measurement",
]
