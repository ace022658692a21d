"""Everyday words patients type, per language, and how typed text is normalised.

The words live in ``lexicon.yaml`` beside this module (package data). It is read and
validated once per process; a mistake in it raises :class:`DataError` naming the file
and the problem.

:func:`fold` is the one normalisation every comparison of typed text goes through
(here and in :mod:`bot.engine.units`), so a word in the data and a word typed by a
patient are always folded the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

LEXICON_FILE = "lexicon.yaml"

#: Option ids every language must have words for.
REQUIRED_OPTIONS = (
    "yes",
    "no",
    "unknown",
    "female",
    "male",
    "type1",
    "type2",
    "pancreatectomy",
    "gestational",
    "other",
)

#: Word lists (besides ``options``) that the lexicon must have.
WORD_LISTS = ("hedges", "less_than", "joiners")


#: PyYAML's safe loader, the C one when PyYAML was built with libyaml (10x faster).
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DataError(ValueError):
    """A data file shipped with the bot is malformed. The message names the file."""


# ---------------------------------------------------------------------------
# Normalisation

_CHAR_MAP = str.maketrans(
    {
        # quotes and primes (after NFKC, ″ has become ′′)
        "‘": "'",
        "’": "'",
        "‛": "'",
        "ʼ": "'",
        "′": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "«": '"',
        "»": '"',
        # dashes and minus signs
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
        # micro: µ and μ are both read as "u" (µg/L = ug/L)
        "µ": "u",
        "μ": "u",
        # Cyrillic
        "ё": "е",
        # Arabic: hamza forms of alef, alef maqsura, ta marbuta, punctuation
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "٫": ".",
        "٪": "%",
        "،": ",",
        "؟": "?",
        "؛": ";",
        "ـ": None,  # tatweel
    }
)

# Arabic harakat, tanween, shadda, sukun, superscript alef
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670]")
_SPACES = re.compile(r"\s+")


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text
    )


def fold(text: str) -> str:
    """Normalise typed text for comparison.

    NFKC (full-width forms, ″ → ′′), invisible format characters (RLM, ZWJ, BOM)
    removed, any script's decimal digits made ASCII, curly quotes and primes made
    straight (`′′` and `''` become `"`), dashes made "-", µ/μ made "u", ё made е,
    Arabic letter variants unified and diacritics dropped, case folded, runs of
    spaces made one space, surrounding spaces stripped.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
        text = _ARABIC_MARKS.sub("", text.translate(_CHAR_MAP))
        text = _ascii_digits(text)
    return _SPACES.sub(" ", text.replace("''", '"')).strip()


# Punctuation a patient may put around a one-word answer ("Yes!", "¿no sé?", "是。").
_EDGE_PUNCT = " .,!?;:…\"'()[]{}¡¿。、，！？；：「」『』【】〈〉《》*"


def clean(text: str) -> str:
    """:func:`fold`, then strip surrounding punctuation (for whole-answer matching)."""
    return _SPACES.sub(" ", fold(text).strip(_EDGE_PUNCT)).strip()


# ---------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Lexicon:
    """The validated contents of lexicon.yaml; every word already :func:`clean`-ed."""

    source: str
    languages: tuple[str, ...]
    fallback: Mapping[str, tuple[str, ...]]
    options: Mapping[str, Mapping[str, frozenset[str]]]  # option id -> lang -> words
    # the lists below are folded with fold() (not clean()): "ca." keeps its dot
    hedges: Mapping[str, frozenset[str]]
    less_than: Mapping[str, frozenset[str]]
    joiners: Mapping[str, frozenset[str]]

    def chain(self, lang: str) -> tuple[str, ...]:
        """The patient's language, then its fallbacks (English for all but English).

        An unknown language tag reads as English.
        """
        if lang not in self.fallback:
            return ("en",)
        return (lang, *self.fallback[lang])

    def words(self, option_id: str, lang: str) -> frozenset[str]:
        """Words for ``option_id`` in exactly ``lang`` (empty if there are none)."""
        return self.options.get(option_id, {}).get(lang, frozenset())

    def all_words(self, option_id: str) -> frozenset[str]:
        """Words for ``option_id`` in every language."""
        by_lang = self.options.get(option_id, {})
        return frozenset().union(*by_lang.values()) if by_lang else frozenset()


def _fail(source: str, where: str, problem: str) -> DataError:
    return DataError(f"{source}: {where}: {problem}")


def _mapping(source: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(source, where, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise _fail(source, where, f"key {key!r} must be a string (quote it)")
    return value


def _word_list(
    source: str, where: str, value: Any, norm: Callable[[str], str] = clean
) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise _fail(source, where, "must be a non-empty list of words")
    words: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _fail(
                source,
                f"{where}[{i}]",
                f"must be a string, got {item!r} ({type(item).__name__}); quote it",
            )
        word = norm(item)
        if not word:
            raise _fail(source, f"{where}[{i}]", "is empty after normalisation")
        words.add(word)
    return frozenset(words)


def _by_language(
    source: str,
    where: str,
    value: Any,
    languages: tuple[str, ...],
    *,
    complete: bool,
    norm: Callable[[str], str] = clean,
) -> Mapping[str, frozenset[str]]:
    data = _mapping(source, where, value)
    for lang in data:
        if lang not in languages:
            raise _fail(source, f"{where}.{lang}", f"unknown language (known: {languages})")
    if complete:
        missing = [lang for lang in languages if lang not in data]
        if missing:
            raise _fail(source, where, f"no words for {', '.join(missing)}")
    return MappingProxyType(
        {lang: _word_list(source, f"{where}.{lang}", words, norm) for lang, words in data.items()}
    )


def _languages(source: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _fail(source, "languages", "must be a non-empty list of language tags")
    if len(set(value)) != len(value):
        raise _fail(source, "languages", "lists a language twice")
    return tuple(value)


def parse_lexicon(text: str, source: str = LEXICON_FILE) -> Lexicon:
    """Validate the YAML ``text`` of a lexicon; ``source`` names it in error messages."""
    try:
        raw = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML: {exc}") from exc
    top = _mapping(source, "top level", raw)
    for key in ("languages", "fallback", "options", *WORD_LISTS):
        if key not in top:
            raise _fail(source, "top level", f"missing key {key!r}")
    unexpected = set(top) - {"languages", "fallback", "options", *WORD_LISTS}
    if unexpected:
        raise _fail(source, "top level", f"unexpected key(s) {sorted(unexpected)}")
    languages = _languages(source, top["languages"])

    fallback = _fallback(source, top["fallback"], languages)
    options_raw = _mapping(source, "options", top["options"])
    missing = [o for o in REQUIRED_OPTIONS if o not in options_raw]
    if missing:
        raise _fail(source, "options", f"missing option(s) {', '.join(missing)}")
    options = {
        option: _by_language(source, f"options.{option}", words, languages, complete=True)
        for option, words in options_raw.items()
    }
    for lang in languages:
        seen: dict[str, str] = {}
        for option, by_lang in options.items():
            for word in by_lang.get(lang, ()):
                if word in seen:
                    raise _fail(
                        source,
                        f"options.{option}.{lang}",
                        f"{word!r} is also a word for {seen[word]!r}; a word may name "
                        "only one option",
                    )
                seen[word] = option

    lists = {
        key: _by_language(source, key, top[key], languages, complete=False, norm=fold)
        for key in WORD_LISTS
    }
    return Lexicon(
        source=source,
        languages=languages,
        fallback=MappingProxyType(fallback),
        options=MappingProxyType(options),
        hedges=lists["hedges"],
        less_than=lists["less_than"],
        joiners=lists["joiners"],
    )


def _fallback(source: str, raw: Any, languages: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Return each language's fallback chain, every entry another known language."""
    fallback_raw = _mapping(source, "fallback", raw)
    fallback: dict[str, tuple[str, ...]] = {}
    for lang in languages:
        chain = fallback_raw.get(lang)
        if not isinstance(chain, list):
            raise _fail(source, f"fallback.{lang}", "must be a list of languages (may be [])")
        for other in chain:
            if other not in languages or other == lang:
                raise _fail(source, f"fallback.{lang}", f"{other!r} is not another language")
        fallback[lang] = tuple(chain)
    stray = set(fallback_raw) - set(languages)
    if stray:
        raise _fail(source, "fallback", f"unknown language(s) {sorted(stray)}")
    return fallback


@cache
def load_lexicon() -> Lexicon:
    """The bot's lexicon (read from package data once per process)."""
    ref = resources.files("bot.engine").joinpath(LEXICON_FILE)
    return parse_lexicon(ref.read_text(encoding="utf-8"), f"bot/engine/{LEXICON_FILE}")


# ---------------------------------------------------------------------------
# Matching helpers


def is_word(text: str, option_id: str, lang: str) -> bool:
    """True if ``text`` is one of the everyday words for ``option_id``.

    Looks in the patient's language and its fallbacks (English last), exact match
    after :func:`clean`.
    """
    lex = load_lexicon()
    word = clean(text)
    return any(word in lex.words(option_id, other) for other in lex.chain(lang))


def is_unknown_word(text: str) -> bool:
    """True if ``text`` says "I don't know" in any language of the lexicon."""
    word = clean(text)
    return bool(word) and word in load_lexicon().all_words("unknown")
