"""Reading yes, no or "I don't know" from a typed answer, clause by clause.

A yes or no word rules its clause ("No, never"); a clause without one answers by its
verbs ("не было", "有过两次") only when nothing else is left over. Later clauses only
tell more, unless they contradict, hedge or ask back. Anything in doubt is asked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from bot.engine.lexicon import clean, load_lexicon
from bot.engine.understanding.data import chain
from bot.engine.understanding.reading import Reading
from bot.engine.understanding.text import (
    EMPTY,
    Context,
    Hit,
    Scanner,
    add_phrases,
    clauses,
    has_cjk,
    names,
    widen,
)

UNKNOWN = "unknown"
_NEGATIVE = ("no", "negators")
_KINDS = (
    "contrast",
    "no",
    "yes",
    "negators",
    "owns",
    "affirmers",
    "emphasis",
    "questions",
    "others",
    "rates",
    "past",
    "resolved",
    "neutral",
)
#: "I don't know" with this many other words is asked again ("肚子疼过，不知道是不是胰腺炎").
UNKNOWN_WITH_WORDS = 2


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
def yes_no_scanner(lang: str) -> Scanner:
    """Phrases that say yes or no, hedge or contradict; the patient's language first."""
    table: dict[str, tuple[str, str]] = {}
    lex = load_lexicon()
    for words in chain(lang):
        for hedge, polarity in words.hedges.items():
            add_phrases(table, (hedge,), "hedge", polarity or "")
        for kind in _KINDS:
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


def _as_verb(hit: Hit) -> Hit:
    kind = "affirmers" if hit.kind == "yes" else "negators"
    return Hit(kind, hit.payload, hit.start, hit.end, hit.text)


def _echoes(hit: Hit, subject: Context) -> Hit:
    """A hedge the question itself says ("医生说过您可能有肿瘤") is the patient echoing it."""
    if hit.kind == "hedge" and hit.text and hit.text in subject.text:
        return Hit("neutral", "", hit.start, hit.end, hit.text)
    return hit


def _roles(hits: list[Hit], length: int, leftover: int) -> list[Hit]:
    """Yes and no words that are not the answer itself become verbs.

    Inside a sentence ("que no se cura"), a one-character Chinese word among other
    words ("对青霉素过敏", "我是男的"); a yes right after a negator is a no ("مش موافق").
    """
    out: list[Hit] = []
    for hit in hits:
        if hit.kind in ("yes", "no"):
            inside = hit.start > 0 and hit.end < length
            lone_cjk = len(hit.text) == 1 and has_cjk(hit.text) and (leftover or hit.start)
            if inside or lone_cjk:
                hit = _as_verb(hit)
        negated = out and out[-1].kind == "negators" and hit.start - out[-1].end <= 1
        if hit.kind in ("yes", "affirmers") and negated:  # "مش موافق", "不好"
            hit = Hit("no" if hit.kind == "yes" else "negators", "", hit.start, hit.end, hit.text)
        out.append(hit)
    return out


def _verb_polarity(kinds: set[str]) -> str | None:
    """The answer a clause without yes or no gives by its verbs: "не было", "I did"."""
    if "questions" in kinds:
        return None  # "what do you mean?"
    if kinds & set(_NEGATIVE):
        return "no"  # "не болел", "of course not", "ما عندي"
    if kinds & {"affirmers", "owns", "emphasis"}:
        return "yes"  # "есть", "有过两次", "of course"
    return None


@dataclass
class _Said:
    """What the clauses of an answer said, gathered."""

    answers: list[str] = field(default_factory=list)
    by_word: bool = False  # a yes or no word said it (not only verbs)
    asks: bool = False  # asks back ("算吗", "does that count")
    resolved: bool = False  # "now fine" ("以前有过，现在好了")
    hedged: bool = False
    doubt: bool = False  # a contrast, a contradiction, words about something else

    def add(self, clause: str, scanner: Scanner, subject: Context = EMPTY) -> None:
        """Read one clause into what was said."""
        raw = [_echoes(h, subject) for h in scanner.scan_stretched(clause)]
        leftover = scanner.leftover(clause, raw, subject)
        hits = _roles(raw, scanner.squeezed_length(clause), leftover)
        kinds = {h.kind for h in hits}
        said = {h.kind for h in hits if h.kind in ("yes", "no")}
        hedges = {h.payload for h in hits if h.kind == "hedge"}
        self.doubt = self.doubt or "contrast" in kinds or len(said) > 1
        self.hedged = self.hedged or "" in hedges
        self.asks = self.asks or "questions" in kinds
        if "resolved" in kinds:
            self.resolved = True
            return
        if said:
            self._word(said.pop(), hits, hedges - {""})
        elif self.answers:
            self._more(kinds, hedges, leftover)
        elif "others" not in kinds:
            self._verbs(clause, hits, hedges, leftover, scanner, subject)

    def _word(self, answer: str, hits: list[Hit], hedges: set[str]) -> None:
        """A clause with a yes or no word: "No, never", "pues no", "mi mamá sí"."""
        if "others" in {h.kind for h in hits} and hits[0].kind not in ("yes", "no"):
            self.doubt = True  # yes, but for someone else
        if hedges - {answer}:
            self.doubt = True  # "no, I think so"
        self.answers.append(answer)
        self.by_word = True

    def _more(self, kinds: set[str], hedges: set[str], leftover: int) -> None:
        """A later clause: it may hedge ("no, I don't think so") or contradict."""
        if hedges:
            self.hedged = True
        if hedges - {"", self.answers[0]}:
            self.doubt = True
        had = kinds & {"affirmers", "owns"} and not kinds & set(_NEGATIVE)
        if self.answers[0] == "no" and had and not leftover:
            self.doubt = True  # "今年没有，前年有过"

    def _verbs(
        self,
        clause: str,
        hits: list[Hit],
        hedges: set[str],
        leftover: int,
        scanner: Scanner,
        subject: Context,
    ) -> None:
        """The first answer given by verbs alone: "не было", "I did", "有过两次"."""
        kinds = {h.kind for h in hits}
        answer = _verb_polarity(kinds) or next((h for h in hedges if h), None)
        asks = "questions" in kinds  # "啥是酮症酸中毒？" asks what the question means
        echoes = not asks and (_echo(clause, subject) or names(clause, subject))
        if answer is None and not hedges and not leftover and echoes:
            answer = "yes"  # an answer echoing the question: "怀孕了吗？" "怀孕了", "الكلى تعبانة"
        if answer is None:
            return
        if leftover > _allowed(clause, hits, answer, scanner, subject) or kinds & {"rates", "past"}:
            self.doubt = True  # "I have a cold", "once a month": says more than yes or no
            return
        self.hedged = self.hedged or bool(hedges)
        self.answers.append(answer)


def _allowed(clause: str, hits: list[Hit], answer: str, scanner: Scanner, subject: Context) -> int:
    """How many unexplained words a Chinese answer by verbs may carry.

    "有红斑狼疮" (有 + what one has) and "不喝酒" (a negated verb, one per negator) are
    plain answers in Chinese; elsewhere "I have a cold" says more than yes.
    """
    if not has_cjk(clause):
        return 0
    if answer == "no":
        return sum(h.kind in _NEGATIVE for h in hits)
    owns = next((h for h in hits if h.kind == "owns"), None)
    if owns is None:
        return 0
    before = clause[: owns.start]
    plain = scanner.leftover(before, scanner.scan(before), subject) == 0  # "去年有一次暈倒"
    named = set(clause[owns.end :]) & (subject.chars - _COMMON)  # "有过肺栓塞", not "我有乙肝"
    return 99 if plain and named else 0


#: Characters too common to show that an answer names what the question asks about.
_COMMON = frozenset("您你我他她它们們是否有的了吗嗎过過病在或者比如其他什么甚麼这這那个個一不没沒")


def _echo(clause: str, subject: Context) -> bool:
    """True if a Chinese clause repeats two or more characters of the question in a row."""
    text = subject.text
    return any(clause[i : i + 2] in text for i in range(len(clause) - 1) if has_cjk(clause[i]))


def _unknown_has_more(norm: str, lang: str, subject: Context) -> bool:
    """True if "I don't know" comes with other words ("不知道是不是胰腺炎")."""
    rest, _ = _unknown_scanner(lang).strip(norm, ("unknown",))
    scanner = yes_no_scanner(lang)
    more = 0
    for clause in clauses(rest):
        hits = scanner.scan(clause)
        more += scanner.leftover(clause, hits, subject)
        more += sum(h.kind in ("hedge", "contrast", "others") for h in hits)
    return more >= UNKNOWN_WITH_WORDS


def _asks_about_control(subject: Context, lang: str) -> bool:
    """True if the question asks about something not under control ("尚未控制住的")."""
    marks = (m for words in chain(lang) for m in words.get("uncontrolled"))
    return any(m in subject.text for m in marks)


def _named(subject: Context, lang: str) -> Context:
    """``subject`` with the patient's words for what the question names (``subjects``)."""
    found = (
        phrases
        for words in chain(lang)
        for key, phrases in words.subjects.items()
        if key in subject.text
    )
    return widen(subject, (p for group in found for p in group))


def read_yes_no(norm: str, ids: set[str], lang: str, subject: Context = EMPTY) -> Reading:
    """Read yes, no or "I don't know" from normalised text; ``subject``: the question."""
    scanner = yes_no_scanner(lang)
    subject = _named(subject, lang)
    said = _Said()
    unknown = False
    for clause in clauses(norm):
        if says_unknown(clause, lang):
            unknown = True
        else:
            said.add(clause, scanner, subject)
    answers = list(dict.fromkeys(said.answers))
    if unknown:
        more = _unknown_has_more(norm, lang, subject)
        if UNKNOWN not in ids or "yes" in answers or said.doubt or more:
            return Reading("unclear", problem="contradiction")
        return Reading("understood", option=UNKNOWN)
    if said.resolved:  # "now fine" answers "not under control?", and nothing else
        fine = _asks_about_control(subject, lang) and not said.doubt
        return Reading("understood", option="no") if fine else Reading("unclear", problem="past")
    asks_back = ("?" in norm or said.asks) and not said.by_word  # "有时候睡不着，算吗"
    if said.doubt or asks_back or len(answers) != 1:
        return Reading("unclear", problem="contradiction" if answers else "no_match")
    if said.hedged:
        return Reading("confirm", option=answers[0], problem="hedge")
    return Reading("understood", option=answers[0])
