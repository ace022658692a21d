"""Reading a typed answer to a choice question: yes/no by polarity, others by words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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
#: A yes or no said only by a verb ("I have ...") among this many other words is offered
#: back, not taken: "I have hepatitis B" is no answer to "Have you had HIV?".
LOOSE_WORDS = 2
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
    for words in languages:
        add_phrases(table, words.get("others"), "others")
        add_phrases(table, words.get("neutral"), "neutral")
    for words in languages:  # the lexicon's phrases ("i have", "no i don't")
        add_phrases(table, lex.words("no", words.lang), "negators")
        add_phrases(table, lex.words("yes", words.lang), "affirmers")
    return Scanner(table)


def says_unknown(text: str, lang: str) -> bool:
    """True if ``text`` (normalised) says "I don't know" somewhere."""
    return bool(_unknown_scanner(lang).scan(text))


def _copula(hit: Hit) -> Hit:
    """A one-character Chinese yes (是, 对, 係) inside a sentence is a verb, not an answer."""
    if hit.kind == "yes" and hit.start > 0 and len(hit.text) == 1 and has_cjk(hit.text):
        return Hit("neutral", "", hit.start, hit.end, hit.text)
    return hit


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


@dataclass
class _Said:
    """What the clauses of an answer said, gathered."""

    firm: list[str] = field(default_factory=list)  # a plain yes or no
    unsure: list[str] = field(default_factory=list)  # hedged, or a verb among other words
    unknown: bool = False
    contrast: bool = False
    conflict: bool = False
    problem: str = "hedge"

    def add(self, clause: str, scanner: Scanner) -> None:
        hits = [_copula(h) for h in scanner.scan(clause)]
        kinds = {h.kind for h in hits}
        self.contrast = self.contrast or "contrast" in kinds
        if "others" in kinds:  # "my mother has it": about someone else
            self.contrast = True
            return
        polarity = _polarity(hits)
        if polarity == "conflict":
            self.conflict = True
        elif polarity is not None:
            loose = not kinds & {"yes", "no"} and scanner.leftover(clause, hits) >= LOOSE_WORDS
            if "hedge" in kinds or loose:
                self.unsure.append(polarity)
                self.problem = "hedge" if "hedge" in kinds else "unsure"
            else:
                self.firm.append(polarity)


def _read_yes_no(norm: str, ids: set[str], lang: str) -> Reading:
    """Read yes/no clause by clause; agreeing words are understood, others offered."""
    scanner = _yes_no_scanner(lang)
    said = _Said()
    for clause in clauses(norm):
        if says_unknown(clause, lang):
            said.unknown = True
        else:
            said.add(clause, scanner)
    if said.unknown:
        if UNKNOWN not in ids:
            return Reading("unclear", problem="unknown_not_offered")
        if "yes" in said.firm or said.conflict or said.contrast:
            return Reading("confirm", option=UNKNOWN, problem="contradiction")
        return Reading("understood", option=UNKNOWN)
    answers = list(dict.fromkeys((*said.firm, *said.unsure)))
    best = answers[0] if answers else None
    if best is None:
        return Reading("unclear", problem="contradiction" if said.conflict else "no_match")
    if said.conflict or len(answers) > 1 or said.contrast:
        return Reading("confirm", option=best, problem="contradiction")
    if not said.firm:
        return Reading("confirm", option=best, problem=said.problem)
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
    if "negators" in kinds:
        return Reading("unclear", problem="contradiction")
    if "contrast" in kinds:
        return Reading("confirm", option=named[0], problem="contradiction")
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
