"""Quantities, their units and conversion figures, from ``units.yaml`` (package data).

The file is read and validated once per process (:func:`load_units`); a mistake in it
raises :class:`~bot.engine.lexicon.DataError` naming the file and the problem. All
figures are exact decimals: the YAML must write them as quoted strings.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import yaml

from bot.engine.lexicon import SAFE_LOADER, DataError, fold

UNITS_FILE = "units.yaml"

#: Decimal arithmetic for conversions: 28 significant digits, rounding only where the
#: data says so (``round``), half up.
DECIMAL_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Conversion:
    """value * factor / divide + add, rounded half up to ``round``, then unit ``to``."""

    factor: Decimal = Decimal(1)
    divide: Decimal = Decimal(1)
    add: Decimal = Decimal(0)
    round: Decimal | None = None
    to: str | None = None  # None: the result is in the canonical unit


@dataclass(frozen=True)
class Unit:
    id: str
    quantity: str
    labels: Mapping[str, str]  # language -> label shown to a patient
    words: frozenset[str]  # folded, every language together
    conversion: Conversion | None  # None for the canonical unit


@dataclass(frozen=True)
class Compound:
    """A value written with two units: "5 ft 6 in", "1米65"."""

    major: str
    minor: str
    ratio: Decimal  # minor units in one major unit (12, 100): a whole number
    minor_below: Decimal | None
    bare_minor: Literal["unit", "digits"]


@dataclass(frozen=True)
class Quantity:
    id: str
    canonical: str
    units: Mapping[str, Unit]
    compounds: tuple[Compound, ...]


@dataclass(frozen=True)
class Units:
    """The validated contents of units.yaml."""

    source: str
    languages: tuple[str, ...]
    quantities: Mapping[str, Quantity]
    units: Mapping[str, Unit]  # every unit, by id (ids are unique across quantities)
    words: Mapping[str, str]  # folded word -> unit id

    def quantity(self, quantity: str) -> Quantity:
        try:
            return self.quantities[quantity]
        except KeyError:
            raise ValueError(
                f"unknown quantity {quantity!r} (known: {', '.join(self.quantities)})"
            ) from None

    def unit(self, unit: str, quantity: str | None = None) -> Unit:
        """The unit ``unit``; if ``quantity`` is given, it must be one of its units."""
        found = self.units.get(unit)
        if found is None:
            raise ValueError(f"unknown unit {unit!r}")
        if quantity is not None and found.quantity != quantity:
            self.quantity(quantity)  # unknown quantity: say so
            raise ValueError(f"unit {unit!r} is not a unit of {quantity!r}")
        return found

    def to_canonical(self, value: Decimal, unit: str, quantity: str) -> Decimal:
        """``value`` in ``unit`` expressed in the canonical unit of ``quantity``.

        A value in the canonical unit is returned as it is ("7.50" stays 7.50). A
        converted value is rounded where the data says so ("7.0" from 53 mmol/mol)
        and otherwise loses the trailing zeros the arithmetic added (165.00 -> 165).
        """
        conv = self.unit(unit, quantity).conversion
        if conv is None:
            return value
        canonical = self.quantities[quantity].canonical
        rounded = False
        with decimal.localcontext(DECIMAL_CONTEXT):
            while conv is not None:
                value = value * conv.factor / conv.divide + conv.add
                rounded = conv.round is not None
                if conv.round is not None:
                    value = value.quantize(conv.round, rounding=ROUND_HALF_UP)
                conv = self.units[conv.to or canonical].conversion
            return value if rounded else _drop_zeros(value)

    def label(self, unit: str, lang: str) -> str:
        labels = self.unit(unit).labels
        return labels.get(lang) or labels["en"]


def _drop_zeros(value: Decimal) -> Decimal:
    """``value`` without trailing fractional zeros, never in exponent form."""
    if value != value.to_integral_value():
        return value.normalize()
    if abs(value) < Decimal(10) ** 20:
        return value.quantize(Decimal(1))
    return value


# ---------------------------------------------------------------------------
# Validation


def _fail(source: str, where: str, problem: str) -> DataError:
    return DataError(f"{source}: {where}: {problem}")


def _mapping(source: str, where: str, value: Any, keys: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(source, where, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise _fail(source, where, f"key {key!r} must be a string (quote it)")
    if keys is not None and set(value) - keys:
        raise _fail(source, where, f"unexpected key(s) {sorted(set(value) - keys)}")
    return value


def _decimal(source: str, where: str, value: Any, *, positive: bool = False) -> Decimal:
    if not isinstance(value, str):
        raise _fail(
            source,
            where,
            f"must be a decimal written as a quoted string, got {value!r} ({type(value).__name__})",
        )
    try:
        number = Decimal(value)
    except decimal.InvalidOperation:
        raise _fail(source, where, f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise _fail(source, where, f"{value!r} is not a finite number")
    if positive and number <= 0:
        raise _fail(source, where, f"must be greater than 0, got {value}")
    return number


def _conversion(source: str, where: str, value: Any) -> Conversion:
    data = _mapping(source, where, value, {"factor", "divide", "add", "round", "to"})

    def figure(key: str, default: Decimal, *, positive: bool = True) -> Decimal:
        if key not in data:
            return default
        return _decimal(source, f"{where}.{key}", data[key], positive=positive)

    rnd = (
        _decimal(source, f"{where}.round", data["round"], positive=True)
        if "round" in data
        else None
    )
    to = data.get("to")
    if to is not None and not isinstance(to, str):
        raise _fail(source, f"{where}.to", "must be a unit id")
    return Conversion(
        factor=figure("factor", Decimal(1)),
        divide=figure("divide", Decimal(1)),
        add=figure("add", Decimal(0), positive=False),
        round=rnd,
        to=to,
    )


def _labels(source: str, where: str, value: Any, languages: tuple[str, ...]) -> Mapping[str, str]:
    data = _mapping(source, where, value)
    for lang in languages:
        label = data.get(lang)
        if not isinstance(label, str) or not label.strip():
            raise _fail(source, f"{where}.{lang}", "missing label (every language needs one)")
    stray = set(data) - set(languages)
    if stray:
        raise _fail(source, where, f"unknown language(s) {sorted(stray)}")
    return MappingProxyType({lang: data[lang].strip() for lang in languages})


def _words(source: str, where: str, value: Any, languages: tuple[str, ...]) -> frozenset[str]:
    data = _mapping(source, where, value)
    words: set[str] = set()
    for lang, items in data.items():
        if lang not in languages:
            raise _fail(source, f"{where}.{lang}", f"unknown language (known: {languages})")
        if not isinstance(items, list) or not items:
            raise _fail(source, f"{where}.{lang}", "must be a non-empty list of words")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not fold(item):
                raise _fail(
                    source,
                    f"{where}.{lang}[{i}]",
                    f"must be a non-empty string, got {item!r}; quote it",
                )
            words.add(fold(item))
    if not words:
        raise _fail(source, where, "a unit needs at least one word")
    return frozenset(words)


def _unit(source: str, quantity: str, unit_id: str, value: Any, languages: tuple[str, ...]) -> Unit:
    where = f"quantities.{quantity}.units.{unit_id}"
    data = _mapping(source, where, value, {"label", "words", "convert"})
    for key in ("label", "words"):
        if key not in data:
            raise _fail(source, where, f"missing key {key!r}")
    conversion = (
        _conversion(source, f"{where}.convert", data["convert"]) if "convert" in data else None
    )
    return Unit(
        id=unit_id,
        quantity=quantity,
        labels=_labels(source, f"{where}.label", data["label"], languages),
        words=_words(source, f"{where}.words", data["words"], languages),
        conversion=conversion,
    )


def _check_chains(source: str, quantity: str, canonical: str, units: Mapping[str, Unit]) -> None:
    for unit in units.values():
        where = f"quantities.{quantity}.units.{unit.id}"
        if unit.id == canonical:
            if unit.conversion is not None:
                raise _fail(source, where, "the canonical unit must not have `convert`")
            continue
        if unit.conversion is None:
            raise _fail(source, where, "missing `convert` (only the canonical unit has none)")
        seen = {unit.id}
        step = unit
        while step.conversion is not None:
            target = step.conversion.to or canonical
            if target not in units:
                raise _fail(
                    source, f"{where}.convert.to", f"{target!r} is not a unit of {quantity}"
                )
            if target in seen:
                raise _fail(source, f"{where}.convert.to", "conversions go round in a circle")
            seen.add(target)
            step = units[target]


def _compound(
    source: str, where: str, value: Any, quantity: str, units: Mapping[str, Unit], table: Units
) -> Compound:
    data = _mapping(source, where, value, {"major", "minor", "minor_below", "bare_minor"})
    for key in ("major", "minor"):
        if data.get(key) not in units:
            raise _fail(source, f"{where}.{key}", f"{data.get(key)!r} is not a unit of {quantity}")
    bare_minor = data.get("bare_minor", "unit")
    if bare_minor not in ("unit", "digits"):
        raise _fail(source, f"{where}.bare_minor", "must be `unit` or `digits`")
    major = table.to_canonical(Decimal(1), data["major"], quantity)
    minor = table.to_canonical(Decimal(1), data["minor"], quantity)
    with decimal.localcontext(DECIMAL_CONTEXT):
        ratio = major / minor
    if ratio <= 1 or ratio != ratio.to_integral_value():
        raise _fail(source, where, "one major unit must be a whole number (> 1) of minor units")
    below = (
        _decimal(source, f"{where}.minor_below", data["minor_below"], positive=True)
        if "minor_below" in data
        else None
    )
    return Compound(
        major=data["major"],
        minor=data["minor"],
        ratio=ratio.to_integral_value(),
        minor_below=below,
        bare_minor="digits" if bare_minor == "digits" else "unit",
    )


def parse_units(text: str, source: str = UNITS_FILE) -> Units:
    """Validate the YAML ``text`` of a units file; ``source`` names it in error messages."""
    try:
        raw = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML: {exc}") from exc
    top = _mapping(source, "top level", raw, {"languages", "quantities"})
    langs = top.get("languages")
    if not isinstance(langs, list) or not langs or not all(isinstance(x, str) for x in langs):
        raise _fail(source, "languages", "must be a non-empty list of language tags")
    languages = tuple(langs)
    if "en" not in languages:
        raise _fail(source, "languages", "must include en (the fallback for labels)")

    quantities_raw = _mapping(source, "quantities", top.get("quantities"))
    if not quantities_raw:
        raise _fail(source, "quantities", "no quantities")
    all_units: dict[str, Unit] = {}
    words: dict[str, str] = {}
    quantities: dict[str, Quantity] = {}
    pending_compounds: list[tuple[str, Any]] = []
    for qid, qraw in quantities_raw.items():
        where = f"quantities.{qid}"
        qdata = _mapping(source, where, qraw, {"canonical", "units", "compounds"})
        units_raw = _mapping(source, f"{where}.units", qdata.get("units"))
        if not units_raw:
            raise _fail(source, f"{where}.units", "no units")
        units = _quantity_units(source, qid, units_raw, languages, all_units, words)
        canonical = qdata.get("canonical")
        if canonical not in units:
            raise _fail(source, f"{where}.canonical", f"{canonical!r} is not one of its units")
        _check_chains(source, qid, canonical, units)
        quantities[qid] = Quantity(
            id=qid, canonical=canonical, units=MappingProxyType(units), compounds=()
        )
        pending_compounds.append((qid, qdata.get("compounds", [])))

    # table.quantities is a live view of `quantities`: the compounds filled in below
    # (they need conversions, hence the table) show through it.
    table = Units(
        source=source,
        languages=languages,
        quantities=MappingProxyType(quantities),
        units=MappingProxyType(all_units),
        words=MappingProxyType(words),
    )
    for qid, craw in pending_compounds:
        _fill_compounds(source, qid, craw, quantities, table)
    return table


def _quantity_units(
    source: str,
    qid: str,
    units_raw: Mapping[str, Any],
    languages: tuple[str, ...],
    all_units: dict[str, Unit],
    words: dict[str, str],
) -> dict[str, Unit]:
    """Read one quantity's units, adding them and their words to ``all_units`` and ``words``."""
    where = f"quantities.{qid}"
    units: dict[str, Unit] = {}
    for uid, uraw in units_raw.items():
        if uid in all_units:
            raise _fail(
                source,
                f"{where}.units.{uid}",
                f"unit id already used by {all_units[uid].quantity}; unit ids must be unique",
            )
        unit = _unit(source, qid, uid, uraw, languages)
        for word in unit.words:
            if word in words and words[word] != uid:
                raise _fail(
                    source,
                    f"{where}.units.{uid}.words",
                    f"{word!r} is also a word for {words[word]!r}; a word must name one unit",
                )
            words[word] = uid
        units[uid] = all_units[uid] = unit
    return units


def _fill_compounds(
    source: str, qid: str, craw: Any, quantities: dict[str, Quantity], table: Units
) -> None:
    """Read a quantity's compounds ("5 ft 6 in") and put them into ``quantities``."""
    where = f"quantities.{qid}.compounds"
    if not isinstance(craw, list):
        raise _fail(source, where, "must be a list")
    compounds = tuple(
        _compound(source, f"{where}[{i}]", item, qid, quantities[qid].units, table)
        for i, item in enumerate(craw)
    )
    majors = [c.major for c in compounds]
    if len(set(majors)) != len(majors):
        raise _fail(source, where, "a unit may be the major part of one compound only")
    q = quantities[qid]
    quantities[qid] = Quantity(id=q.id, canonical=q.canonical, units=q.units, compounds=compounds)


@cache
def load_units() -> Units:
    """The bot's units (read from package data once per process)."""
    ref = resources.files("bot.engine").joinpath(UNITS_FILE)
    return parse_units(ref.read_text(encoding="utf-8"), f"bot/engine/{UNITS_FILE}")
