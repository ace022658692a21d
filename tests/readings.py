"""Scripted readings: make the engine read chosen texts as given ``Reading``s.

The engine's handling of a reading (take it, offer it to confirm, ask again) is tested
apart from how the understanding pipeline reads any particular words; texts not in the
script are read by the real pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from bot.engine import answering, readback
from bot.engine.answers import Measured, MeasureSpec
from bot.engine.understanding import Reading, read_choice, read_measurement


def script(monkeypatch: pytest.MonkeyPatch, readings: Mapping[str, Reading]) -> None:
    """Read each text in ``readings`` as its Reading, everything else as the bot does."""

    def choice(
        text: str, options: Sequence[tuple[str, str]], lang: str, question: str = ""
    ) -> Reading:
        scripted = readings.get(text)
        if scripted is not None and scripted.measured is None:
            return scripted
        return read_choice(text, options, lang, question)

    def measurement(
        text: str, spec: MeasureSpec, lang: str, forced_unit: str | None = None
    ) -> Reading:
        scripted = readings.get(text)
        if scripted is not None and scripted.measured is not None:
            return scripted
        return read_measurement(text, spec, lang, forced_unit)

    for module in (answering, readback):
        monkeypatch.setattr(module, "read_measurement", measurement)
    monkeypatch.setattr(answering, "read_choice", choice)


def proposed(option: str, problem: str = "hedge") -> Reading:
    """Return a choice reading offered for confirmation."""
    return Reading("confirm", option=option, problem=problem)


def measured(
    value: str,
    unit: str,
    *,
    status: str = "understood",
    number: str | None = None,
    bound: str | None = None,
) -> Reading:
    """Return a measurement reading of ``value`` (canonical) typed as ``number`` ``unit``."""
    figure = Decimal(number if number is not None else value)
    found = Measured("ok", Decimal(value), figure, unit, bound=bound)  # type: ignore[arg-type]
    return Reading(status, measured=found)  # type: ignore[arg-type]
