"""Reading a typed answer to a choice question: yes/no by polarity, others by words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from rapidfuzz.distance import OSA

from bot.engine.answers import match_choice
from bot.engine.lexicon import clean, fold, load_lexicon
from bot.engine.understanding.data import chain, load_words
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
_YES_NO_KINDS = (
    "contrast",
    "no",
    "yes",
    "negators",
    "affirmers",
    "emphasis",
    "questions",
    "others",
    "neutral",
)
_FLAT = re.compile(r"[^\w]+")
Options = Sequence[tuple[str, str]]


@cache
def _unknown_scanner(lang: str) -> Scanner:
    """Every way of saying "I don't know" (looked for before anything else)."""
    table: dict[str, tuple[str, str]] = {}
    lex = load_lexicon()
    alone = frozenset().union(*(words.get("unknown_alone") for words in chain(lang)))
    for words in chain(lang):
        add_phrases(table, words.get("unknown"), "unknown")
        add_phrases(table, lex.words(UNKNOWN, words.lang) - alone, "unknown")
    return Scanner(table)


@cache
def _yes_no_scanner(lang: str) -> Scanner:
    """Phrases that say yes or no, hedge or contradict; the patient's language first."""
    table: dict[str, tuple[str, str]] = {}
    lex = load_lexicon()
    for words in chain(lang):
        for hedge, polarity in words.hedges.items():
            add_phrases(table, (hedge,), "hedge", polarity or "")
        for kind in _YES_NO_KINDS:
            add_phrases(table, words.get(kind), kind)
        for option, verbs in (("no", "negators"), ("yes", "affirmers")):
            for phrase in lex.words(option, words.lang):  # "yes i have", "i don't"
                said = phrase.split()[0] in words.get(option)
                add_phrases(table, (phrase,), option if said else verbs)
    return Scanner(table)


def says_unknown(text: str, lang: str) -> bool:
    """True if ``text`` (normalised) says "I don't know" somewhere.

    Some forms say it only standing alone ("no se" is also "no se cura").
    """
    if any(clean(text) in words.get("unknown_alone") for words in chain(lang)):
        return True
    return bool(_unknown_scanner(lang).scan(text))


def _copula(hit: Hit) -> Hit:
    """A one-character Chinese yes (是, 对, 係) inside a sentence is a verb, not an answer."""
    if hit.kind == "yes" and hit.start > 0 and len(hit.text) == 1 and has_cjk(hit.text):
        return Hit("neutral", "", hit.start, hit.end, hit.text)
    return hit


def _inside(hit: Hit, length: int) -> Hit:
    """A yes or no word inside a sentence is a verb's ("que no se cura"), not an answer."""
    if hit.kind in ("yes", "no") and hit.start > 0 and hit.end < length:
        kind = "affirmers" if hit.kind == "yes" else "negators"
        return Hit(kind, hit.payload, hit.start, hit.end, hit.text)
    return hit


def _verb_polarity(kinds: set[str]) -> str | None:
    """The answer a clause without yes or no gives by its verbs: "не было", "I did"."""
    if "questions" in kinds:
        return None  # "what do you mean?"
    if kinds & set(_NEGATIVE):
        return "no"  # "не болел", "of course not", "ما عندي"
    if kinds & {"affirmers", "emphasis"}:
        return "yes"  # "есть", "有过两次", "of course"
    return None


@dataclass
class _Said:
    """What the clauses of an answer said, gathered."""

    firm: list[str] = field(default_factory=list)  # a plain yes or no
    unsure: list[str] = field(default_factory=list)  # said with a hedge
    unknown: bool = False
    doubt: bool = False  # a contrast, a contradiction, words about something else

    def add(self, clause: str, scanner: Scanner) -> None:
        """Read one clause: its yes/no word rules; verbs count only in the first answer."""
        length = scanner.squeezed_length(clause)
        hits = [_inside(_copula(h), length) for h in scanner.scan(clause)]
        kinds = {h.kind for h in hits}
        self.doubt = self.doubt or "contrast" in kinds
        said = {h.kind for h in hits if h.kind in ("yes", "no")}
        hedges = {h.payload for h in hits if h.kind == "hedge"}
        if len(said) > 1:
            self.doubt = True  # "yes and no"
            return
        first = hits[0].kind if hits else ""
        if said and "others" in kinds and first not in ("yes", "no"):
            self.doubt = True  # "mi mamá sí": yes, but for someone else
            return
        if said:
            answer = said.pop()
            if hedges - {"", answer}:
                self.doubt = True  # "no, I think so"
            (self.unsure if "" in hedges else self.firm).append(answer)
            return
        if self.firm or self.unsure or "others" in kinds:
            return  # a later clause that only tells more; or about someone else
        verb = _verb_polarity(kinds) or next((h for h in hedges if h), None)
        if verb is None:
            return
        if scanner.leftover(clause, hits) > (1 if verb == "no" else 0):
            self.doubt = True  # "I have a cold": says more than yes or no
            return
        (self.unsure if hedges else self.firm).append(verb)


def _read_yes_no(norm: str, ids: set[str], lang: str) -> Reading:
    """Read yes/no clause by clause; agreeing words are understood, others offered."""
    scanner = _yes_no_scanner(lang)
    said = _Said()
    for clause in clauses(norm):
        if says_unknown(clause, lang):
            said.unknown = True
        else:
            said.add(clause, scanner)
    answers = list(dict.fromkeys((*said.firm, *said.unsure)))
    if said.unknown:
        if UNKNOWN not in ids or "yes" in answers or said.doubt:
            return Reading("unclear", problem="contradiction")
        return Reading("understood", option=UNKNOWN)
    if said.doubt or len(answers) != 1:
        return Reading("unclear", problem="contradiction" if answers else "no_match")
    if said.firm:
        return Reading("understood", option=answers[0])
    return Reading("confirm", option=answers[0], problem="hedge")


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
        reading = _read_yes_no(norm, ids, lang)
    else:
        reading = _read_options(norm, options, lang)
    if reading.status == "unclear" and reading.problem == "no_match":
        return _typo(norm, options, lang) or reading
    return reading
