"""Reading a typed answer to a choice question: yes/no by polarity, others by words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from rapidfuzz.distance import OSA

from bot.engine.answers import match_choice
from bot.engine.lexicon import clean, fold, load_lexicon
from bot.engine.understanding.data import chain
from bot.engine.understanding.reading import Reading
from bot.engine.understanding.text import (
    Hit,
    Scanner,
    add_phrases,
    clauses,
    emoji_answers,
    emoji_only,
    has_cjk,
    normalise,
)

UNKNOWN = "unknown"
_NEGATIVE = ("no", "negators")
_FLAT = re.compile(r"[^\w]+")
Options = Sequence[tuple[str, str]]


@cache
def _unknown_scanner(lang: str) -> Scanner:
    """Every way of saying "I don't know" (looked for before anything else)."""
    table: dict[str, tuple[str, str]] = {}
    lex = load_lexicon()
    for words in chain(lang):
        add_phrases(table, words.get("unknown"), "unknown")
        add_phrases(table, lex.words(UNKNOWN, words.lang), "unknown")
    return Scanner(table)


@cache
def _yes_no_scanner(lang: str) -> Scanner:
    """Phrases that say yes or no, hedge or contradict."""
    table: dict[str, tuple[str, str]] = {}
    languages = chain(lang)
    lex = load_lexicon()
    for words in languages:
        for hedge, polarity in words.hedges.items():
            add_phrases(table, (hedge,), "hedge", polarity or "")
        add_phrases(table, words.get("contrast"), "contrast")
    for words in languages:
        add_phrases(table, words.get("no"), "no")
        add_phrases(table, words.get("yes"), "yes")
        add_phrases(table, words.get("negators"), "negators")
        add_phrases(table, words.get("affirmers"), "affirmers")
        add_phrases(table, words.get("emphasis"), "emphasis")
        add_phrases(table, words.get("questions"), "questions")
    for words in languages:  # the lexicon's phrases ("i have", "no i don't")
        add_phrases(table, lex.words("no", words.lang), "negators")
        add_phrases(table, lex.words("yes", words.lang), "affirmers")
    return Scanner(table)


def says_unknown(text: str, lang: str) -> bool:
    """True if ``text`` (normalised) says "I don't know" somewhere."""
    return bool(_unknown_scanner(lang).scan(text))


def _polarity(hits: list[Hit]) -> str | None:
    """One clause's answer: "yes", "no", "conflict" or None."""
    kinds = {h.kind for h in hits}
    positive = "yes" in kinds
    negative = bool(kinds & set(_NEGATIVE))
    if positive and negative:
        return "conflict"
    if "questions" in kinds and not positive and "no" not in kinds:
        return None  # "what do you mean?"
    if negative:
        return "no"  # "не было", "of course not", "ما عندي"
    if positive or kinds & {"affirmers", "emphasis"}:
        return "yes"
    hedged = [h.payload for h in hits if h.kind == "hedge" and h.payload]
    return hedged[0] if hedged else None


def _read_yes_no(norm: str, ids: set[str], lang: str) -> Reading:
    """Read yes/no clause by clause; agreeing words are understood, others offered."""
    scanner = _yes_no_scanner(lang)
    firm: list[str] = []
    hedged: list[str] = []
    unknown = contrast = conflict = False
    for clause in clauses(norm):
        if says_unknown(clause, lang):
            unknown = True
            continue
        hits = scanner.scan(clause)
        contrast = contrast or any(h.kind == "contrast" for h in hits)
        polarity = _polarity(hits)
        if polarity == "conflict":
            conflict = True
        elif polarity is not None:
            is_hedged = any(h.kind == "hedge" for h in hits)
            (hedged if is_hedged else firm).append(polarity)
    if unknown:
        if UNKNOWN not in ids:
            return Reading("unclear", problem="unknown_not_offered")
        if "yes" in firm or conflict or contrast:
            return Reading("confirm", option=UNKNOWN, problem="contradiction")
        return Reading("understood", option=UNKNOWN)
    said = list(dict.fromkeys((*firm, *hedged)))
    best: str | None = (firm or hedged)[0] if (firm or hedged) else None
    if conflict or len(said) > 1:
        if best is None:
            return Reading("unclear", problem="contradiction")
        return Reading("confirm", option=best, problem="contradiction")
    if best is None:
        return Reading("unclear", problem="no_match")
    if contrast:
        return Reading("confirm", option=best, problem="contradiction")
    if not firm:
        return Reading("confirm", option=best, problem="hedge")
    return Reading("understood", option=best)


def _option_scanner(options: Options, lang: str) -> Scanner:
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
    kinds = {h.kind for h in hits} | ({"unknown"} if says_unknown(norm, lang) else set())
    ids = {oid for oid, _ in options}
    named = list(dict.fromkeys(h.payload for h in hits if h.kind == "option"))
    if "unknown" in kinds and not named and UNKNOWN in ids:
        return Reading("understood", option=UNKNOWN)
    if len(named) != 1:
        return Reading("unclear", problem="several" if named else "no_match")
    if "negators" in kinds or "contrast" in kinds:
        return Reading("unclear", problem="contradiction")
    if "hedge" in kinds or "unknown" in kinds:
        return Reading("confirm", option=named[0], problem="hedge")
    return Reading("understood", option=named[0])


def _typo(norm: str, options: Options, lang: str) -> Reading | None:
    """The one option a short answer is one typo away from, to confirm; else None."""
    word = clean(norm)
    if not 3 <= len(word) <= 20 or has_cjk(word):  # one stroke changes a Chinese word
        return None
    lex = load_lexicon()
    best: dict[str, int] = {}
    for oid, label in options:
        names = {clean(label)} | {w for words in chain(lang) for w in lex.words(oid, words.lang)}
        for words in chain(lang):
            if oid in ("yes", "no", UNKNOWN):
                names |= words.get(oid)
        for name in (n for n in names if len(n) >= 3):
            limit = 2 if len(name) >= 7 else 1
            distance = OSA.distance(word, name, score_cutoff=limit)
            if distance <= limit:
                best[oid] = min(best.get(oid, limit + 1), distance)
    if not best:
        return None
    top = min(best.values())
    winners = [oid for oid, d in best.items() if d == top]
    return Reading("confirm", option=winners[0], problem="typo") if len(winners) == 1 else None


def _emoji(found: list[str], ids: set[str]) -> Reading:
    answers = {emoji_answers().get(e) for e in found}
    answer = answers.pop() if len(answers) == 1 else None
    if answer is not None and answer in ids:
        return Reading("confirm", option=answer, problem="emoji")
    return Reading("unclear", problem="emoji")


def read_choice(text: str, options: Options, lang: str) -> Reading:
    """Read a typed answer to a choice question with ``options`` (id, label)."""
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
        reading = _read_yes_no(norm, ids, lang)
    else:
        reading = _read_options(norm, options, lang)
    if reading.status == "unclear" and reading.problem == "no_match":
        return _typo(norm, options, lang) or reading
    return reading
