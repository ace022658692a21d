"""The understanding pipeline's words, one YAML file per language in ``words/``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import yaml

from bot.engine.lexicon import SAFE_LOADER, DataError, fold

LANGUAGES = ("en", "zh-Hans", "zh-Hant", "es", "ru", "ar")
PHRASE_LISTS = (
    "yes",
    "no",
    "negators",
    "affirmers",
    "owns",
    "emphasis",
    "questions",
    "unknown",
    "contrast",
    "fillers",
    "neutral",
    "others",
    "rates",
    "past",
    "resolved",
    "uncontrolled",
    "unknown_alone",
    "ambiguous",
)
BOUNDS = ("lt", "le", "gt", "ge")
Polarity = Literal["yes", "no"]


@dataclass(frozen=True)
class Words:
    """One language's phrases, every phrase already folded."""

    lang: str
    lists: Mapping[str, frozenset[str]]  # PHRASE_LISTS name -> phrases
    hedges: Mapping[str, Polarity | None]  # hedge -> the answer it gives alone, if any
    options: Mapping[str, frozenset[str]]  # option id -> everyday phrases
    bounds: Mapping[str, frozenset[str]]  # lt/le/gt/ge -> phrases
    #: a word of a question -> the patient's words for what it names ("глаза": "ретинопатия")
    subjects: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def get(self, name: str) -> frozenset[str]:
        """The phrases of list ``name`` (empty if the file has none)."""
        return self.lists.get(name, frozenset())


def _phrases(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and fold(v) for v in value):
        raise DataError(f"{where}: must be a list of non-empty strings (quote them)")
    return frozenset(fold(v) for v in value)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise DataError(f"{where}: must be a mapping with string keys")
    return value


def parse_words(text: str, lang: str, source: str) -> Words:
    """Validate one language's YAML ``text``; ``source`` names it in errors."""
    raw = _mapping(yaml.load(text, Loader=SAFE_LOADER), source)
    unexpected = set(raw) - {*PHRASE_LISTS, "hedges", "options", "bounds", "subjects"}
    if unexpected:
        raise DataError(f"{source}: unexpected key(s) {sorted(unexpected)}")
    lists = {name: _phrases(raw.get(name, []), f"{source}: {name}") for name in PHRASE_LISTS}
    hedges: dict[str, Polarity | None] = {}
    for phrase, polarity in _mapping(raw.get("hedges", {}), f"{source}: hedges").items():
        if polarity not in ("yes", "no", None):
            raise DataError(f"{source}: hedges.{phrase}: must be yes, no or null")
        hedges[fold(phrase)] = polarity
    options = _groups(raw, "options", source)
    subjects = {fold(k): v for k, v in _groups(raw, "subjects", source).items()}
    bounds_raw = _mapping(raw.get("bounds", {}), f"{source}: bounds")
    if set(bounds_raw) - set(BOUNDS):
        raise DataError(f"{source}: bounds: only {BOUNDS}")
    bounds = {b: _phrases(bounds_raw.get(b, []), f"{source}: bounds.{b}") for b in BOUNDS}
    _check_clashes(source, lists, hedges)
    return Words(
        lang,
        MappingProxyType(lists),
        MappingProxyType(hedges),
        MappingProxyType(options),
        MappingProxyType(bounds),
        MappingProxyType(subjects),
    )


def _groups(raw: dict[str, Any], key: str, source: str) -> dict[str, frozenset[str]]:
    """A mapping of names to phrase lists (``options``, ``subjects``), validated."""
    return {
        name: _phrases(words, f"{source}: {key}.{name}")
        for name, words in _mapping(raw.get(key, {}), f"{source}: {key}").items()
    }


_POSITIVE = ("yes", "affirmers")
_NEGATIVE = ("no", "negators")


def _check_clashes(
    source: str, lists: Mapping[str, frozenset[str]], hedges: Mapping[str, object]
) -> None:
    """Raise DataError when one phrase is both positive and negative, or a hedge and sure."""
    positive = lists["yes"] | lists["affirmers"] | lists["owns"] | lists["emphasis"]
    negative = lists["no"] | lists["negators"]
    for phrase in sorted(positive & negative):
        raise DataError(f"{source}: {phrase!r} is both a yes word and a no word")
    sure = positive | negative | lists["unknown"]
    for phrase in sorted(sure & set(hedges)):
        raise DataError(f"{source}: {phrase!r} is both a hedge and a sure answer")
    for phrase in sorted(lists["unknown"] & (positive | negative)):
        raise DataError(f"{source}: {phrase!r} is both 'I don't know' and yes or no")


@cache
def load_words(lang: str) -> Words:
    """The words of ``lang`` (English for a language without a file)."""
    if lang not in LANGUAGES:
        lang = "en"
    name = f"{lang}.yaml"
    ref = resources.files("bot.engine.understanding").joinpath("words", name)
    return parse_words(ref.read_text(encoding="utf-8"), lang, f"understanding/words/{name}")


def chain(lang: str) -> tuple[Words, ...]:
    """The patient's language's words, then English's (everyone may type English)."""
    own = load_words(lang)
    return (own,) if own.lang == "en" else (own, load_words("en"))
