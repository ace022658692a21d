"""Reading a typed answer to a choice question: yes/no by polarity, others by words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rapidfuzz.distance import OSA

from bot.engine.answers import match_choice
from bot.engine.lexicon import clean, fold, load_lexicon
from bot.engine.understanding.data import chain, load_words
from bot.engine.understanding.polarity import UNKNOWN, read_yes_no, says_unknown, yes_no_scanner
from bot.engine.understanding.reading import Reading
from bot.engine.understanding.text import (
    Scanner,
    add_phrases,
    context,
    emoji_answers,
    emoji_only,
    has_cjk,
    normalise,
)

_FLAT = re.compile(r"[^\w]+")
Options = Sequence[tuple[str, str]]


@lru_cache(maxsize=1024)  # one per question and language: built once, not on every answer
def _option_scanner(options: tuple[tuple[str, str], ...], lang: str) -> Scanner:
    """Phrases naming each option (labels, lexicon, everyday words), hedges, negations."""
    table: dict[str, tuple[str, str]] = {}
    languages = chain(lang)
    lex = load_lexicon()
    for words in languages:
        add_phrases(table, words.get("unknown"), "unknown")
        add_phrases(table, lex.words(UNKNOWN, words.lang), "unknown")
        add_phrases(table, words.hedges, "hedge")
        add_phrases(table, words.get("contrast"), "contrast")
    for oid, label in options:
        names = {fold(label), clean(label), fold(oid)}
        for words in languages:
            names |= words.options.get(oid, frozenset()) | lex.words(oid, words.lang)
        add_phrases(table, names, "option", oid)
    for words in languages:
        add_phrases(table, words.get("negators"), "negators")
    return Scanner(table)


def _read_options(norm: str, options: Options, lang: str) -> Reading:
    """Read an answer naming one option among words that do not change it."""
    hits = _option_scanner(tuple(options), lang).scan(norm)
    hits = [h for h in hits if not (h.kind == "contrast" and h.start == 0)]  # "بس وقت الحمل"
    kinds = {h.kind for h in hits} | ({"unknown"} if says_unknown(norm, lang) else set())
    ids = {oid for oid, _ in options}
    named = list(dict.fromkeys(h.payload for h in hits if h.kind == "option"))
    if "unknown" in kinds and not named and UNKNOWN in ids:
        return Reading("understood", option=UNKNOWN)
    if len(named) != 1:
        return Reading("unclear", problem="several" if named else "no_match")
    if "negators" in kinds:
        return Reading("unclear", problem="contradiction")
    if "contrast" in kinds:
        return Reading("confirm", option=named[0], problem="contradiction")
    if "hedge" in kinds or "unknown" in kinds:
        return Reading("confirm", option=named[0], problem="hedge")
    return Reading("understood", option=named[0])


def _typo(norm: str, options: Options, lang: str) -> Reading | None:
    """The one option a short unknown word is one typo away from, to confirm; else None."""
    word = clean(norm)
    if not 3 <= len(word) <= 20 or has_cjk(word):  # one stroke changes a Chinese word
        return None
    if yes_no_scanner(lang).scan(word) or says_unknown(word, lang):
        return None  # a word the bot knows ("иногда") is not a typo of another
    lex = load_lexicon()
    best: dict[str, int] = {}
    for oid, label in options:
        names = {clean(label)} | {w for words in chain(lang) for w in lex.words(oid, words.lang)}
        for words in chain(lang):
            names |= words.options.get(oid, frozenset())  # "второго типа"
            if oid in ("yes", "no", UNKNOWN):
                names |= words.get(oid)
        for name in (n for n in names if len(n) >= 3):
            if OSA.distance(word, name, score_cutoff=1) <= 1:
                best[oid] = 1
    winners = list(best)
    return Reading("confirm", option=winners[0], problem="typo") if len(winners) == 1 else None


def _emoji(found: list[str], ids: set[str]) -> Reading:
    answers = {emoji_answers().get(e) for e in found}
    answer = answers.pop() if len(answers) == 1 else None
    if answer is not None and answer in ids:
        return Reading("confirm", option=answer, problem="emoji")
    return Reading("unclear", problem="emoji")


def read_choice(text: str, options: Options, lang: str, question: str = "") -> Reading:
    """Read a typed answer to a choice question with ``options`` (id, label).

    ``question`` is the question as the patient read it (optional): words of it in a
    yes/no answer ("I don't have HIV", "有乙肝") say nothing more than yes or no.
    """
    if clean(text) in load_words(lang).get("ambiguous"):
        return Reading("unclear", problem="ambiguous")  # Spanish "M": mujer or masculino
    option = match_choice(text, options, lang)
    if option is not None:
        return Reading("understood", option=option)
    if not text.strip():
        return Reading("unclear", problem="empty")
    ids = {oid for oid, _ in options}
    found = emoji_only(text)
    if found is not None:
        return _emoji(found, ids)
    norm = normalise(text)
    flat = _FLAT.sub(" ", norm).strip()
    for oid, label in options:
        if flat and _FLAT.sub(" ", normalise(label)).strip() == flat:
            return Reading("understood", option=oid)
    if {"yes", "no"} <= ids:
        reading = read_yes_no(norm, ids, lang, context(question))
    else:
        reading = _read_options(norm, options, lang)
    if reading.status == "unclear" and reading.problem == "no_match":
        return _typo(norm, options, lang) or reading
    return reading
