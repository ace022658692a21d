"""Reading a typed measurement: lead-ins, number words, bounds, hedges, regional units."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

from bot.engine.answers import Bound, Measured, MeasureSpec, parse_measurement
from bot.engine.lexicon import fold, load_lexicon
from bot.engine.understanding.data import BOUNDS, chain
from bot.engine.understanding.numbers import arabic_to_digits, to_digits
from bot.engine.understanding.reading import Reading
from bot.engine.understanding.text import Hit, Scanner, add_phrases, normalise
from bot.engine.units import load_units

#: Units a region writes with the same word as a spec unit, by language: in zh-Hant
#: a bare 斤 may be a 台斤 (0.6 kg) or a 市斤 (0.5 kg), so the bot asks which.
REGIONAL = {("zh-Hant", "jin"): ("tai_jin", "jin")}
#: Words that say which of the regional units was meant.
_NAMED_JIN = re.compile("市斤|台斤|臺斤")
_AROUND = ("unknown", "bound", "hedge", "approx", "filler")
_UNKNOWN_UNIT = re.compile(r"^[<>≤≥=\s]*-?\d+(?:[.,]\d+)?\s*([^\d\s]\S*)")


@cache
def _scanner(lang: str) -> Scanner:
    """Phrases around a number: "I don't know", bounds, number hedges, hedges, lead-ins."""
    table: dict[str, tuple[str, str]] = {}
    languages = chain(lang)
    for words in languages:
        add_phrases(table, words.get("unknown"), "unknown")
    for words in languages:
        for bound in BOUNDS:
            add_phrases(table, words.bounds[bound], "bound", bound)
    lex = load_lexicon()
    for group in lex.less_than.values():
        add_phrases(table, group, "bound", "lt")
    for group in lex.hedges.values():
        add_phrases(table, group, "approx")  # "about 65 kg" is 65 kg (the spec)
    unit_words = set(load_units().words)
    for words in languages:
        add_phrases(table, (h for h in words.hedges if h not in unit_words), "hedge")
        add_phrases(table, (f for f in words.get("fillers") if f not in unit_words), "filler")
    for word in unit_words:
        table.pop(word, None)
    return Scanner(table)


def _spec_for(spec: MeasureSpec) -> MeasureSpec:
    """``spec`` that also accepts the regional twins of its units (台斤 beside 斤)."""
    extra = [u for (_, base), twins in REGIONAL.items() if base in spec.units for u in twins]
    units = tuple(dict.fromkeys((*spec.units, *extra)))
    return spec if units == spec.units else replace(spec, units=units)


def read_measurement(
    text: str, spec: MeasureSpec, lang: str, forced_unit: str | None = None
) -> Reading:
    """Read a typed measurement for ``spec``; ``forced_unit`` as in parse_measurement."""
    wide = _spec_for(spec)
    region = lang if forced_unit is None else ""
    scanner = _scanner(lang)
    norm = normalise(arabic_to_digits(text))
    rest, hits = scanner.strip(norm, _AROUND)
    kinds = {h.kind for h in hits}
    if "bound" not in kinds and "hedge" not in kinds:
        plain = parse_measurement(text, wide, lang, forced_unit)
        if plain.status in ("ok", "unknown"):
            reading = _forced_twin(_decide(plain, kinds, (), norm), forced_unit, spec, norm)
            return _regional(reading, region, norm)
    if "unknown" in kinds and not re.search(r"\d", rest):
        return Reading("understood", measured=Measured("unknown"))
    if len({h.payload for h in hits if h.kind == "bound"}) > 1:
        return Reading("unclear", measured=Measured("several"), problem="contradiction")
    digits, more = scanner.strip(normalise(to_digits(rest, lang)), _AROUND)
    hits += more
    measured = parse_measurement(digits, wide, lang, forced_unit)
    reading = _decide(measured, kinds | {h.kind for h in more}, tuple(hits), digits)
    return _regional(_forced_twin(reading, forced_unit, spec, norm), region, norm)


def _decide(measured: Measured, kinds: set[str], hits: tuple[Hit, ...], rest: str) -> Reading:
    """Understood, confirm (a hedge) or unclear, with the bound read."""
    bound = next((h.payload for h in hits if h.kind == "bound"), None)
    if measured.status == "unknown":
        return Reading("understood", measured=measured)
    if bound is not None:
        measured = replace(measured, bound=_as_bound(bound))
    if measured.status != "ok":
        return _unclear(measured, rest)
    if "hedge" in kinds:
        return Reading("confirm", measured=measured, problem="hedge")
    return Reading("understood", measured=measured)


def _as_bound(payload: str) -> Bound:
    for bound in ("lt", "le", "gt", "ge"):
        if payload == bound:
            return bound
    raise ValueError(f"not a bound: {payload!r}")


def _unclear(measured: Measured, rest: str) -> Reading:
    """Why a measurement could not be read, naming an unknown unit as typed."""
    if measured.status == "invalid":
        after = _UNKNOWN_UNIT.match(rest)
        if after and after.group(1) not in load_units().words:
            return Reading(
                "unclear", measured=measured, problem="unknown_unit", detail=after.group(1)
            )
        if not re.search(r"\d", rest):
            return Reading("unclear", measured=measured, problem="no_number")
    return Reading("unclear", measured=measured, problem=measured.status)


def _forced_twin(reading: Reading, forced: str | None, spec: MeasureSpec, typed: str) -> Reading:
    """The 斤 the patient chose after being asked, for a number typed with a bare 斤."""
    measured = reading.measured
    if forced is None or measured is None or measured.number is None or measured.unit is None:
        return reading
    twins = {u for group in REGIONAL.values() if forced in group for u in group}
    if measured.unit == forced or measured.unit not in twins or _NAMED_JIN.search(fold(typed)):
        return reading
    value = load_units().to_canonical(measured.number, forced, spec.quantity)
    return replace(reading, measured=replace(measured, unit=forced, value=value))


def _regional(reading: Reading, lang: str, typed: str) -> Reading:
    """Ask which 斤 a zh-Hant patient meant unless they named it."""
    measured = reading.measured
    if measured is None or measured.unit is None or reading.status == "unclear":
        return reading
    choices = REGIONAL.get((lang, measured.unit))
    if choices is None or _NAMED_JIN.search(fold(typed)):
        return reading
    need = Measured("need_unit", number=measured.number, choices=choices, bound=measured.bound)
    return Reading("unclear", measured=need, problem="need_unit", detail="斤")
