"""Reading patients' typed answers: measurements with units, choices, "I don't know".

Everything language-specific is data: units and their words in ``units.yaml``,
everyday words in ``lexicon.yaml``. Numbers are :class:`~decimal.Decimal` throughout,
never floats.

A measurement is read in these steps (:func:`parse_measurement`):

1. empty -> ``empty``; "I don't know" in any language -> ``unknown``; longer than
   :data:`MAX_MEASUREMENT_CHARS` -> ``invalid``.
2. normalise: NFKC, any script's digits, Arabic "٫"/"٬", decimal commas, case, µ.
3. split into tokens: numbers, unit words (every language's), hedges ("about",
   "左右"), "less than" markers ("<", "低于"), joiners ("and"), a minus sign, and
   anything else.
4. hedges are dropped wherever they are; the rest must be: ["less than"] [minus]
   number [unit] ["less than"], or a compound ("5 ft 6 in", "1米65"). Two numbers
   in any other shape -> ``several``; scientific notation, stray words or symbols
   -> ``invalid``.
5. the unit: typed (must be one of the spec's, else ``wrong_unit``), else the
   ``forced_unit``, else the first matching bare rule, else ``need_unit``.
6. convert to the canonical unit (with the data's rounding), cut to whole numbers if
   the spec says so, check the plausible range -> ``ok`` or ``implausible``.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cache
from typing import Literal

from bot.engine.choices import match_choice as match_choice  # also read from here
from bot.engine.lexicon import DataError, fold, is_unknown_word, load_lexicon
from bot.engine.units import DECIMAL_CONTEXT, Compound, Units, load_units

Status = Literal[
    "ok", "unknown", "need_unit", "implausible", "several", "wrong_unit", "invalid", "empty"
]

#: How a value written as a bound relates to the true value ("<0.1" -> "lt").
Bound = Literal["lt", "le", "gt", "ge"]

#: A measurement answer longer than this (after trimming) is not read at all.
MAX_MEASUREMENT_CHARS = 200

BMI_STEP = Decimal("0.1")


# ---------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class BareRule:
    """How a number typed without a unit is read: in ``unit`` if within the bounds."""

    unit: str
    gt: Decimal | None = None
    ge: Decimal | None = None
    lt: Decimal | None = None
    le: Decimal | None = None

    def matches(self, number: Decimal) -> bool:
        return (
            (self.gt is None or number > self.gt)
            and (self.ge is None or number >= self.ge)
            and (self.lt is None or number < self.lt)
            and (self.le is None or number <= self.le)
        )


@dataclass(frozen=True)
class MeasureSpec:
    """One measurement question, as the flow describes it."""

    quantity: str
    units: tuple[str, ...]
    bare: tuple[BareRule, ...]
    ask: tuple[str, ...]
    plausible_min: Decimal  # canonical unit, inclusive
    plausible_max: Decimal
    whole: bool = False


@dataclass(frozen=True)
class Measured:
    """What a typed measurement says. See the module docstring for ``status``."""

    status: Status
    value: Decimal | None = None  # canonical unit, converted and rounded
    number: Decimal | None = None  # as typed (a compound in its number/unit below)
    unit: str | None = None  # unit id the number is in
    choices: tuple[str, ...] = ()  # need_unit: units to offer (spec.ask)
    bound: Bound | None = None  # written as a bound: the true value is below/above value


def bare_rule(data: Mapping[str, object]) -> BareRule:
    """A :class:`BareRule` from flow data: ``{"lt": "20", "unit": "percent"}``.

    Bounds may be strings or numbers (read through ``str``, so 1.0 stays 1.0).
    """
    unknown_keys = set(data) - {"unit", "gt", "ge", "lt", "le"}
    if unknown_keys:
        raise ValueError(f"bare rule {dict(data)!r}: unexpected key(s) {sorted(unknown_keys)}")
    unit = data.get("unit")
    if not isinstance(unit, str) or not unit:
        raise ValueError(f"bare rule {dict(data)!r}: needs a unit id")

    def bound(key: str) -> Decimal | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValueError(f"bare rule {dict(data)!r}: {key} must be a number")
        try:
            number = Decimal(str(value))
        except decimal.InvalidOperation:
            raise ValueError(f"bare rule {dict(data)!r}: {key} must be a number") from None
        if not number.is_finite():
            raise ValueError(f"bare rule {dict(data)!r}: {key} must be finite")
        return number

    return BareRule(unit=unit, gt=bound("gt"), ge=bound("ge"), lt=bound("lt"), le=bound("le"))


def validate_spec(spec: MeasureSpec) -> None:
    """Raise ValueError if ``spec`` names units or a quantity units.yaml does not have."""
    units = load_units()
    quantity = units.quantity(spec.quantity)
    where = f"measurement {spec.quantity!r}"
    if not spec.units:
        raise ValueError(f"{where}: accepts no units")
    for unit in spec.units:
        if unit not in quantity.units:
            raise ValueError(f"{where}: {unit!r} is not a unit of {spec.quantity}")
    for unit in (*(r.unit for r in spec.bare), *spec.ask):
        if unit not in spec.units:
            raise ValueError(f"{where}: {unit!r} (bare rule or ask) is not in its units")
    if spec.plausible_min > spec.plausible_max:
        raise ValueError(f"{where}: plausible_min is above plausible_max")


# ---------------------------------------------------------------------------
# Small public helpers


def canonical_unit(quantity: str) -> str:
    """The unit id values of ``quantity`` are kept in ("cm", "kg", "nmol_l", ...)."""
    return load_units().quantity(quantity).canonical


def convert(value: Decimal, unit: str, quantity: str) -> Decimal:
    """``value`` in ``unit`` to the canonical unit of ``quantity``, with the data's
    rounding (HbA1c from mmol/mol: half up to 0.1). Raises ValueError for a unit that
    is not one of the quantity's."""
    return load_units().to_canonical(value, unit, quantity)


def unit_label(unit: str, lang: str) -> str:
    """How to show ``unit`` to a patient in ``lang`` ("kg", "斤", "г/л"); English
    for a language without a label."""
    return load_units().label(unit, lang)


def bmi(weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    """Body-mass index kg/m², rounded half up to one decimal (35.05 -> 35.1)."""
    if height_cm <= 0:
        raise ValueError(f"height must be above 0 cm, got {height_cm}")
    if weight_kg < 0:
        raise ValueError(f"weight must not be negative, got {weight_kg}")
    with decimal.localcontext(DECIMAL_CONTEXT):
        metres = height_cm / 100
        return (weight_kg / (metres * metres)).quantize(BMI_STEP, rounding=ROUND_HALF_UP)


def is_unknown(text: str, lang: str) -> bool:
    """True if ``text`` says "I don't know" (or "unknown") in any of the bot's languages.

    ``lang`` is accepted for symmetry with :func:`match_choice`; the words of every
    language are accepted, as none of them means anything else in another.
    """
    return is_unknown_word(text)


# ---------------------------------------------------------------------------
# Measurements: tokens

_Kind = Literal["num", "unit", "hedge", "less", "join", "minus", "other"]


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str  # the number as typed, the unit id, or the word
    start: int
    end: int


@dataclass(frozen=True)
class _Word:
    text: str  # folded
    kind: _Kind
    payload: str  # unit id for units, else the word
    bounded: bool  # must not run on into a letter ("m" is not the start of "min")


@dataclass(frozen=True)
class _Scanner:
    # first character -> words starting with it, longest first ("mmol/mol" before "m")
    by_first: Mapping[str, tuple[_Word, ...]]

    def word_at(self, text: str, pos: int) -> _Word | None:
        for word in self.by_first.get(text[pos], ()):
            if text.startswith(word.text, pos):
                end = pos + len(word.text)
                if not (word.bounded and end < len(text) and _is_spaced_letter(text[end])):
                    return word
        return None


_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*|\.[0-9]+")
_MINUS = re.compile(r"-(?![^\W\d_])")  # not the start of a word such as "-ish"
_SKIP = frozenset(" .,!?;:、。！？")


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def _is_spaced_letter(ch: str) -> bool:
    """A letter of a script that separates words with spaces (not Chinese)."""
    return ch.isalpha() and not _is_cjk(ch)


@cache
def _scanner() -> _Scanner:
    """Every word a measurement may contain: all languages' units, hedges, "less
    than" markers and joiners. A word with two meanings is a data error."""
    units = load_units()
    lex = load_lexicon()
    words: dict[str, _Word] = {}

    def add(text: str, kind: _Kind, payload: str, source: str) -> None:
        old = words.get(text)
        if old is not None and (old.kind, old.payload) != (kind, payload):
            raise DataError(
                f"{source}: {text!r} is both a {kind} and a {old.kind} ({old.payload!r}); "
                "measurements cannot be read"
            )
        words[text] = _Word(text, kind, payload, _is_spaced_letter(text[-1]))

    for text, unit in units.words.items():
        add(text, "unit", unit, units.source)
    lex_lists: tuple[tuple[_Kind, Mapping[str, frozenset[str]]], ...] = (
        ("hedge", lex.hedges),
        ("less", lex.less_than),
        ("join", lex.joiners),
    )
    for kind, lists in lex_lists:
        for group in lists.values():
            for text in group:
                add(text, kind, text, lex.source)
    by_first: dict[str, list[_Word]] = {}
    for word in sorted(words.values(), key=lambda w: (-len(w.text), w.text)):
        by_first.setdefault(word.text[0], []).append(word)
    return _Scanner({first: tuple(group) for first, group in by_first.items()})


_SCIENTIFIC = re.compile(r"[0-9]\s*(?:e|\^|\*\*)\s*[-+]?\s*[0-9]")
_SLASH = re.compile(r"\s*/\s*")
_ARABIC_THOUSANDS = re.compile(r"(?<=[0-9])٬(?=[0-9]{3}(?![0-9]))")
_CJK_STOP_IN_NUMBER = re.compile(r"(?<=[0-9])。(?=[0-9])")
_CHINESE_METRES = re.compile(r"(?<![0-9])([一二两])米([〇零一二三四五六七八九]{0,2})")
_CHINESE_DIGITS = str.maketrans("〇零一二两三四五六七八九", "001223456789")


def _normalise(text: str) -> str:
    text = fold(text)
    text = _ARABIC_THOUSANDS.sub("", text).replace("٬", ",")
    text = _CJK_STOP_IN_NUMBER.sub(".", text)
    text = _CHINESE_METRES.sub(
        lambda m: (m.group(1) + "米" + m.group(2)).translate(_CHINESE_DIGITS), text
    )
    return _SLASH.sub("/", text)


def _tokenise(text: str) -> list[_Token]:
    scanner = _scanner()
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        prev = tokens[-1] if tokens else None
        if number := _NUMBER.match(text, pos):
            start, pos = number.span()
            glued = prev and prev.kind == "other" and prev.end == start
            if glued and prev and _is_spaced_letter(prev.text[-1]):
                _push_other(tokens, number.group(), start)  # "a1c": part of a word
                continue
            tokens.append(_Token("num", number.group(), start, pos))
        elif word := scanner.word_at(text, pos):
            tokens.append(_Token(word.kind, word.payload, pos, pos + len(word.text)))
            pos += len(word.text)
        elif _MINUS.match(text, pos):
            tokens.append(_Token("minus", "-", pos, pos + 1))
            pos += 1
        else:
            if text[pos] not in _SKIP:
                _push_other(tokens, text[pos], pos)
            pos += 1
    return tokens


def _push_other(tokens: list[_Token], chunk: str, start: int) -> None:
    prev = tokens[-1] if tokens else None
    if prev and prev.kind == "other" and prev.end == start:
        tokens[-1] = _Token("other", prev.text + chunk, prev.start, start + len(chunk))
    else:
        tokens.append(_Token("other", chunk, start, start + len(chunk)))


def _decimal(text: str) -> Decimal | None:
    """A typed number; a comma is a decimal separator. None if it has two separators."""
    if text.count(".") + text.count(",") > 1:
        return None
    return Decimal(text.replace(",", "."))


# ---------------------------------------------------------------------------
# Measurements: shape


@dataclass(frozen=True)
class _Reading:
    """The number a patient wrote, with the unit they wrote (if any)."""

    number: Decimal
    unit: str | None


class _Unreadable(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status)
        self.status = status


def _read_core(core: list[_Token], units: Units) -> _Reading:
    kinds = [t.kind for t in core]
    negative = bool(kinds) and kinds[0] == "minus"
    if negative:
        core, kinds = core[1:], kinds[1:]
    reading: _Reading | None = None
    if kinds == ["num"]:
        reading = _Reading(_number(core[0]), None)
    elif kinds == ["num", "unit"]:
        reading = _Reading(_number(core[0]), core[1].text)
    elif len(core) >= 3 and kinds[:2] == ["num", "unit"]:
        compound = _compound_for(core[1].text, units)
        rest = kinds[2:]
        if compound is not None and rest and rest[0] == "join":
            core, rest = core[:2] + core[3:], rest[1:]
        if compound is not None and rest in (["num"], ["num", "unit"]):
            reading = _read_compound(compound, core)
    if reading is None:
        raise _Unreadable("several" if kinds.count("num") >= 2 else "invalid")
    return _Reading(-reading.number, reading.unit) if negative else reading


def _number(token: _Token) -> Decimal:
    number = _decimal(token.text)
    if number is None:
        raise _Unreadable("invalid")
    return number


def _compound_for(unit: str, units: Units) -> Compound | None:
    quantity = units.quantities[units.units[unit].quantity]
    return next((c for c in quantity.compounds if c.major == unit), None)


def _read_compound(compound: Compound, core: list[_Token]) -> _Reading:
    major = _number(core[0])
    if major != major.to_integral_value():
        raise _Unreadable("invalid")  # "5.5 ft 6 in"
    minor_token = core[2]
    minor_unit = core[3].text if len(core) == 4 else None
    if minor_unit is not None and minor_unit != compound.minor:
        raise _Unreadable("invalid")  # "5 ft 6 cm"
    if minor_unit is None and compound.bare_minor == "digits":
        if not minor_token.text.isdigit():
            raise _Unreadable("invalid")
        return _Reading(Decimal(f"{int(major)}.{minor_token.text}"), compound.major)
    minor = _number(minor_token)
    if compound.minor_below is not None and minor >= compound.minor_below:
        raise _Unreadable("invalid")  # "5'13"
    return _Reading(major * compound.ratio + minor, compound.minor)


def _read(text: str, units: Units) -> _Reading:
    if _SCIENTIFIC.search(text):
        raise _Unreadable("invalid")
    tokens = _tokenise(text)
    numbers = sum(t.kind == "num" for t in tokens)
    if numbers == 0:
        raise _Unreadable("invalid")
    if any(t.kind == "other" for t in tokens):
        raise _Unreadable("several" if numbers >= 2 else "invalid")
    tokens = [t for t in tokens if t.kind != "hedge"]  # "about", "左右", "65ish kg"
    start, end = 0, len(tokens)
    while start < end and tokens[start].kind == "less":
        start += 1
    while end > start and tokens[end - 1].kind == "less":
        end -= 1
    return _read_core(tokens[start:end], units)


# ---------------------------------------------------------------------------
# Measurements: the public reader


def parse_measurement(
    text: str, spec: MeasureSpec, lang: str, forced_unit: str | None = None
) -> Measured:
    """Read a typed measurement. See the module docstring for the steps.

    ``forced_unit`` is the unit the patient chose after ``need_unit``: a number typed
    without a unit is read in it and the bare rules are skipped (a unit typed in the
    text still wins). It must be one of ``spec.units`` (ValueError otherwise).
    """
    units = load_units()
    if forced_unit is not None and forced_unit not in spec.units:
        raise ValueError(f"forced unit {forced_unit!r} is not one of {spec.units}")
    stripped = text.strip()
    if not stripped or not fold(stripped):
        return Measured("empty")
    if len(stripped) > MAX_MEASUREMENT_CHARS:
        return Measured("invalid")
    if is_unknown(stripped, lang):
        return Measured("unknown")
    try:
        reading = _read(_normalise(stripped), units)
    except _Unreadable as exc:
        return Measured(exc.status)

    number = reading.number
    unit = reading.unit
    if unit is not None:
        if units.units[unit].quantity != spec.quantity or unit not in spec.units:
            return Measured("wrong_unit", number=number, unit=unit)
    elif forced_unit is not None:
        unit = forced_unit
    else:
        unit = next((rule.unit for rule in spec.bare if rule.matches(number)), None)
        if unit is None:
            return Measured("need_unit", number=number, choices=spec.ask)

    value = units.to_canonical(number, unit, spec.quantity)
    if spec.whole:
        value = value.to_integral_value(rounding=ROUND_DOWN)
    status: Status = "ok" if spec.plausible_min <= value <= spec.plausible_max else "implausible"
    return Measured(status, value=value, number=number, unit=unit)
