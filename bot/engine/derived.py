"""Values a flow works out from answers (a BMI from a weight and a height): the closed
registry of formulas a flow's ``derived`` section may name, and the compiled values.

A flow says which formula, which of its facts feed each of the formula's inputs, and how
the result is rounded (half up, to a step); the formula holds only arithmetic and the
canonical unit each input must be in. A value is worked out from exact answers; over the
ranges that bounds allow ("<60 kg") it is a range too, from the formula's direction in
each input (a BMI rises with the mass and falls with the length).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from bot.engine.answers import MeasureSpec, canonical_unit
from bot.engine.errors import FlowError
from bot.engine.facts import FactView
from bot.engine.flow_ids import check_question_id
from bot.engine.spans import Span
from bot.engine.units import DECIMAL_CONTEXT


@dataclass(frozen=True)
class Formula:
    """Arithmetic over named inputs, each in a canonical unit, rising (+1) or falling (-1)."""

    inputs: tuple[tuple[str, str, int], ...]  # (input name, canonical unit, direction)
    compute: Callable[..., Decimal]  # raises ValueError outside its domain

    @property
    def names(self) -> tuple[str, ...]:
        """Return the formula's input names, in order."""
        return tuple(name for name, _unit, _direction in self.inputs)


def _mass_per_square_length(kg: Decimal, cm: Decimal) -> Decimal:
    if cm <= 0 or kg < 0:
        raise ValueError("needs a length above 0 and a mass of 0 or more")
    metres = cm / 100
    return kg / (metres * metres)


#: Every formula a flow may name.
FORMULAS: dict[str, Formula] = {
    "body_mass_index": Formula((("kg", "kg", 1), ("cm", "cm", -1)), _mass_per_square_length),
}


@dataclass(frozen=True)
class Derived:
    """One value a flow works out: its id, team label, formula, facts and rounding."""

    id: str
    label: str  # English source text, for the study team
    formula: Formula
    facts: tuple[str, ...]  # the fact feeding each formula input, in the formula's order
    step: Decimal  # rounded half up to this step

    def compute(self, values: Mapping[str, Decimal | None]) -> Decimal | None:
        """Return the rounded value from exact fact values, or None when one is missing."""
        given = [values.get(f) for f in self.facts]
        if any(v is None for v in given):
            return None
        try:
            with decimal.localcontext(DECIMAL_CONTEXT):
                raw = self.formula.compute(*given)
                return raw.quantize(self.step, rounding=ROUND_HALF_UP)
        except (ValueError, ArithmeticError):
            return None

    def exact(self, view: FactView) -> Decimal | None:
        """Return the value when every fact it needs is an exact answer (not a bound)."""
        values: dict[str, Decimal | None] = {}
        for fact in self.facts:
            span = view.span(fact)
            exact = span is not None and span.low is not None and span.low == span.high
            values[fact] = span.low if exact and span is not None else None
        return self.compute(values)

    def span(self, view: FactView) -> Span | None:
        """Return the values the answers allow (ends rounded, closed), or None when unknown."""
        low: dict[str, Decimal | None] = {}
        high: dict[str, Decimal | None] = {}
        for fact, (_name, _unit, direction) in zip(self.facts, self.formula.inputs, strict=True):
            span = view.span(fact)
            if span is None:
                return None
            low[fact], high[fact] = (
                (span.low, span.high) if direction > 0 else (span.high, span.low)
            )
        return Span(self.compute(low), self.compute(high))


_KEYS = frozenset({"id", "label", "formula", "from", "round"})


def parse_derived(
    raw: Any, measures: Mapping[str, MeasureSpec | None], source: str
) -> tuple[Derived, ...]:
    """Validate a flow's ``derived`` section against its questions' measures."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise FlowError(source, "derived", "must be a list")
    found: list[Derived] = []
    for index, item in enumerate(raw):
        where = f"derived #{index + 1}"
        if (
            not isinstance(item, dict)
            or set(item) - _KEYS
            or not {"id", "formula", "from"} <= set(item)
        ):
            raise FlowError(
                source, where, f"needs 'id', 'formula' and 'from' (may have {sorted(_KEYS)})"
            )
        did = item["id"]
        where = f"derived {did!r}"
        if not isinstance(did, str) or did in measures or did in {d.id for d in found}:
            raise FlowError(
                source, where, "the id must be new: not a question's or another value's"
            )
        check_question_id(did, where, source)
        formula = FORMULAS.get(str(item["formula"]))
        if formula is None:
            raise FlowError(
                source, where, f"unknown formula {item['formula']!r} (known: {sorted(FORMULAS)})"
            )
        facts = _inputs(item["from"], formula, measures, where, source)
        try:
            step = Decimal(str(item.get("round", "0.1")))
        except InvalidOperation:
            step = Decimal(0)
        if not step.is_finite() or step <= 0:
            raise FlowError(source, where, "'round' must be a step above 0, like 0.1")
        label = item.get("label", did)
        if not isinstance(label, str) or not label.strip():
            raise FlowError(source, where, "'label' must be text")
        found.append(Derived(did, label.strip(), formula, facts, step))
    return tuple(found)


def _inputs(
    raw: Any, formula: Formula, measures: Mapping[str, MeasureSpec | None], where: str, source: str
) -> tuple[str, ...]:
    if not isinstance(raw, dict) or set(raw) != set(formula.names):
        raise FlowError(source, where, f"'from' must name a fact for each of {list(formula.names)}")
    facts = []
    for name, unit, _direction in formula.inputs:
        fact = raw[name]
        measure = measures.get(fact) if isinstance(fact, str) else None
        if measure is None:
            raise FlowError(source, where, f"{name}: {fact!r} is not a measurement question")
        if canonical_unit(measure.quantity) != unit:
            raise FlowError(source, where, f"{name}: {fact!r} is not kept in {unit}")
        facts.append(fact)
    return tuple(facts)
