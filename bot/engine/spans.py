"""Measured values as ranges: an exact number is a point, a value written as a bound is a ray.

A stored measurement answer is a decimal in the quantity's canonical unit ("7.5"), or
that decimal after the sign of a bound ("<0.1", "≥7"), the way lab reports print
results outside their range. The criteria test a whole range against the values that
pass: inside them all is a pass, outside them all a fail, anything else unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.engine.answers import Bound

#: The sign each bound is written with, in stored values and wherever one is shown.
SIGNS: dict[str, str] = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
_BOUNDS: dict[str, Bound] = {"<": "lt", "≤": "le", ">": "gt", "≥": "ge"}


def bounded_value(number: Decimal, bound: str | None) -> str:
    """Return the stored form of ``number``, after the sign of ``bound`` when there is one."""
    return SIGNS.get(bound or "", "") + format(number, "f")


def split_value(value: str) -> tuple[Bound | None, Decimal] | None:
    """Return ``(bound, number)`` of a stored measurement, or None when it is not a number."""
    bound = _BOUNDS.get(value[:1])
    try:
        number = Decimal(value[1:] if bound else value)
    except InvalidOperation:
        return None
    return (bound, number) if number.is_finite() else None


@dataclass(frozen=True)
class Span:
    """The values a measurement may have: from ``low`` to ``high`` (None: no end)."""

    low: Decimal | None
    high: Decimal | None
    low_open: bool = False  # the low end itself is not included
    high_open: bool = False

    @classmethod
    def point(cls, number: Decimal) -> Span:
        """Return the span holding exactly ``number``."""
        return cls(number, number)

    @classmethod
    def of(cls, number: Decimal, bound: str | None) -> Span:
        """Return the span a number written with ``bound`` ("lt", "ge", ...) stands for."""
        if bound == "lt" or bound == "le":
            return cls(None, number, high_open=bound == "lt")
        if bound == "gt" or bound == "ge":
            return cls(number, None, low_open=bound == "gt")
        return cls.point(number)

    @classmethod
    def parse(cls, value: str) -> Span | None:
        """Return the span of a stored measurement, or None for "unknown" or an option id."""
        split = split_value(value)
        return None if split is None else cls.of(split[1], split[0])

    def within(self, other: Span) -> bool:
        """Return True when every value of this span is in ``other``."""
        return _starts_after(self, other) and _ends_before(self, other)

    def apart(self, other: Span) -> bool:
        """Return True when no value of this span is in ``other``."""
        return _before(self, other) or _before(other, self)


def _starts_after(inner: Span, outer: Span) -> bool:
    if outer.low is None:
        return True
    if inner.low is None:
        return False
    if inner.low != outer.low:
        return inner.low > outer.low
    return inner.low_open or not outer.low_open


def _ends_before(inner: Span, outer: Span) -> bool:
    if outer.high is None:
        return True
    if inner.high is None:
        return False
    if inner.high != outer.high:
        return inner.high < outer.high
    return inner.high_open or not outer.high_open


def _before(first: Span, second: Span) -> bool:
    """Return True when ``first`` ends before ``second`` starts (no value in common)."""
    if first.high is None or second.low is None:
        return False
    if first.high != second.low:
        return first.high < second.low
    return first.high_open or second.low_open
