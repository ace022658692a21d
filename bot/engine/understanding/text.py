"""Normalising typed text and finding known phrases in it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import emoji
import yaml

from bot.engine.lexicon import SAFE_LOADER, DataError, fold

#: Marks that end a clause in any of the six scripts (after folding: ، is ",", ؟ is "?").
_CLAUSE_BREAK = re.compile(r"[,，、。!！?？;；:：…\n()（）\[\]{}「」『』【】]+|\.(?!\d)|\s-\s")
_QUOTES = re.compile(r"[\"“”«»~*_]+|(?<!\w)'|'(?!\w)")
_SPACES = re.compile(r"\s+")
_REPEAT3 = re.compile(r"(\w)\1{2,}")
_REPEAT2 = re.compile(r"(\w)\1+")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")
_SKIN_AND_VARIANTS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\ufe0e\u200d]")


_WORD = re.compile(r"[^\W\u2e80-\u9fff\uf900-\ufaff]+")


@dataclass(frozen=True)
class Context:
    """The words and Chinese characters of the question the patient answers."""

    words: frozenset[str] = frozenset()
    chars: frozenset[str] = frozenset()
    text: str = ""  # folded
    named: frozenset[str] = frozenset()  # the patient's words for what it asks about


EMPTY = Context()


def context(question: str) -> Context:
    """The :class:`Context` of a question's text (any language)."""
    folded = fold(question)
    words = {s for w in _WORD.findall(folded) for s in (w, *stems(w))}
    return Context(frozenset(words), frozenset(_CJK.findall(folded)), folded)


def widen(subject: Context, phrases: Iterable[str]) -> Context:
    """``subject`` whose words also explain ``phrases`` (what the question names)."""
    named = frozenset(phrases)
    if not named:
        return subject
    words = {s for p in named for w in _WORD.findall(p) for s in (w, *stems(w))}
    chars = {c for p in named for c in _CJK.findall(p)}
    return Context(subject.words | words, subject.chars | chars, subject.text, named)


def names(clause: str, subject: Context) -> bool:
    """True if ``clause`` says one of the words for what the question asks about.

    A single word is too little ("tired?"): "الكلى تعبانة" (kidneys + their state) is not.
    """
    if not has_cjk(clause) and len(_WORD.findall(clause)) < 2:
        return False
    for phrase in subject.named:
        pattern = re.escape(phrase) if has_cjk(phrase) else rf"(?<!\w){re.escape(phrase)}(?!\w)"
        if re.search(pattern, clause):
            return True
    return False


_ARABIC_LETTERS = re.compile("[\u0621-\u064a]+$")
_ARABIC_PREFIX = re.compile("^(?:وال|بال|فال|لل|ال|و|ب|ف|ل)")
_ARABIC_SUFFIX = re.compile("(?:ها|ات|ين|ون|ه|ا|ي)$")


def stems(word: str) -> tuple[str, ...]:
    """Light stems of an Arabic word ("حاملا" -> "حامل"), so that a question's word
    explains its forms in an answer; other scripts have none."""
    if not _ARABIC_LETTERS.match(word):
        return ()
    bare = _ARABIC_SUFFIX.sub("", _ARABIC_PREFIX.sub("", word))
    return tuple(s for s in {bare, _ARABIC_SUFFIX.sub("", word)} if len(s) >= 2)


@dataclass(frozen=True)
class Hit:
    """A known phrase found in a clause."""

    kind: str
    payload: str
    start: int
    end: int
    text: str = ""  # the phrase as found


def has_cjk(text: str) -> bool:
    """True if ``text`` has a Chinese character."""
    return bool(_CJK.search(text))


def normalise(text: str) -> str:
    """Fold ``text`` and drop emoji and quotes; clause marks are kept."""
    text = emoji.replace_emoji(fold(text), " ")
    return _SPACES.sub(" ", _QUOTES.sub(" ", text)).strip()


def clauses(text: str) -> list[str]:
    """The non-empty clauses of normalised ``text``."""
    return [c.strip() for c in _CLAUSE_BREAK.split(text) if c.strip()]


def squeeze(text: str, known: frozenset[str]) -> str:
    """Undo stretched letters in words that are then known ("yess", "noo", "даа", "نعمم")."""

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        if word in known:
            return word
        for pattern in (_REPEAT3, _REPEAT2):
            short = pattern.sub(r"\1", word)
            if short in known:
                return short
        short = _squeeze_accented(word)  # "síii": í and i are one letter stretched
        return short if short in known else word

    return re.sub(r"\w+", fix, text)


def _base(ch: str) -> str:
    return unicodedata.normalize("NFD", ch)[0]


def _squeeze_accented(word: str) -> str:
    """``word`` with runs of one letter, accented or not, cut to the run's first."""
    out: list[str] = []
    for ch in word:
        if not out or _base(out[-1]) != _base(ch):
            out.append(ch)
    return "".join(out)


def _boundary(phrase: str) -> str:
    body = re.escape(phrase)
    if has_cjk(phrase):
        return body
    head = r"(?<![\w'])" if re.match(r"\w", phrase) else ""
    tail = r"(?![\w']|[.,]\d)" if re.search(r"\w$", phrase) else ""  # not "type 1.5"
    return head + body + tail


class Scanner:
    """Finds known phrases, longest first at each place, left to right."""

    def __init__(self, phrases: Mapping[str, tuple[str, str]]) -> None:
        self._kinds = dict(phrases)  # phrase -> (kind, payload)
        ordered = sorted(self._kinds, key=lambda p: (-len(p), p))
        self._regex = re.compile("|".join(_boundary(p) for p in ordered)) if ordered else None
        self.words = frozenset(w for p in self._kinds for w in re.findall(r"\w+", p))

    def scan(self, clause: str) -> list[Hit]:
        """Every known phrase in ``clause``, in order."""
        if self._regex is None:
            return []
        return [
            Hit(*self._kinds[m.group()], m.start(), m.end(), m.group())
            for m in self._regex.finditer(squeeze(clause, self.words))
        ]

    def scan_stretched(self, clause: str) -> list[Hit]:
        """:meth:`scan`, and if nothing is found, again with every stretched letter
        undone ("нее" is also a word of "у нее", but alone it is "не")."""
        hits = self.scan(clause)
        if hits or not _REPEAT2.search(clause):
            return hits
        return self.scan(_REPEAT2.sub(r"\1", clause))

    def scanned(self, clause: str) -> str:
        """``clause`` as :meth:`scan_stretched` read it."""
        text = squeeze(clause, self.words)
        if self.scan(clause) or not _REPEAT2.search(clause):
            return text
        return _REPEAT2.sub(r"\1", clause)

    def squeezed_length(self, clause: str) -> int:
        """The length of ``clause`` as scanned (stretched letters undone)."""
        return len(self.scanned(clause))

    def leftover(self, clause: str, hits: list[Hit], context: Context = EMPTY) -> int:
        """How many words (Chinese: two characters) of ``clause`` nothing explains.

        Words of ``context`` (the question as the patient read it) explain themselves:
        "有乙肝" answers "...比如乙肝或丙肝？" and says nothing more.
        """
        text = list(self.scanned(clause))
        for hit in hits:
            text[hit.start : hit.end] = " " * (hit.end - hit.start)
        rest = "".join(text)
        words = [
            w
            for w in _WORD.findall(rest)
            if w not in context.words and not set(stems(w)) & context.words
        ]
        chars = [c for c in _CJK.findall(rest) if c not in context.chars]
        return (len(chars) + 1) // 2 + len(words)

    def strip(self, text: str, kinds: Iterable[str]) -> tuple[str, list[Hit]]:
        """``text`` without the phrases of ``kinds``, and the phrases removed."""
        wanted = set(kinds)
        removed: list[Hit] = []
        if self._regex is None:
            return text, removed

        def cut(match: re.Match[str]) -> str:
            kind, payload = self._kinds[match.group()]
            if kind not in wanted:
                return match.group()
            removed.append(Hit(kind, payload, match.start(), match.end()))
            return " "

        return _SPACES.sub(" ", self._regex.sub(cut, text)).strip(), removed


def add_phrases(
    table: dict[str, tuple[str, str]], phrases: Iterable[str], kind: str, payload: str = ""
) -> None:
    """Add ``phrases`` to ``table`` unless already there (the first kind wins)."""
    for phrase in phrases:
        table.setdefault(phrase, (kind, payload))


@cache
def emoji_answers() -> Mapping[str, str]:
    """Emoji -> the answer it suggests ("yes", "no", "unknown")."""
    ref = resources.files("bot.engine.understanding").joinpath("words", "emoji.yaml")
    raw = yaml.load(ref.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    if not isinstance(raw, dict):
        raise DataError("understanding/words/emoji.yaml: must be a mapping")
    return {_SKIN_AND_VARIANTS.sub("", e): str(answer) for answer, es in raw.items() for e in es}


def emoji_only(text: str) -> list[str] | None:
    """The emoji of ``text`` (skin tones dropped) if it holds nothing else, else None."""
    found = [_SKIN_AND_VARIANTS.sub("", e["emoji"]) for e in emoji.emoji_list(text)]
    if not found or emoji.replace_emoji(text, "").strip(" .!,\ufe0f"):
        return None
    return found
