"""Reading a choice from typed words: the option a label, an id or a lexicon word names."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.engine.lexicon import clean, load_lexicon

_LABEL_HEAD = re.compile(r"\s*(?:[(（\[]|\s[-–—]\s|[–—]|:\s)")


def _label_head(label: str) -> str:
    """The part of a label before a parenthetical or a dash, cleaned ("" if none)."""
    match = _LABEL_HEAD.search(label)
    return clean(label[: match.start()]) if match else ""


def _lexicon_tier(word: str, lang: str) -> Callable[[str, str], bool]:
    lex = load_lexicon()
    return lambda oid, label: word in lex.words(oid, lang)


def match_choice(text: str, options: Sequence[tuple[str, str]], lang: str) -> str | None:
    """The id of the option ``text`` names, or None.

    Tried in order, exact after normalising, stopping at the first step that matches
    (None if that step matches more than one option): the label; the option id; the
    lexicon's words for the option in the patient's language, then in its fallback
    languages (English last); the part of the label before "(" or a dash.
    Never fuzzy: "not sure" is not "no".
    """
    word = clean(text)
    if not word or not options:
        return None
    lex = load_lexicon()
    tiers: list[Callable[[str, str], bool]] = [
        lambda oid, label: clean(label) == word,
        lambda oid, label: clean(oid) == word,
        *(_lexicon_tier(word, other) for other in lex.chain(lang)),
        lambda oid, label: _label_head(label) == word,
    ]
    for tier in tiers:
        hits = {oid for oid, label in options if tier(oid, label)}
        if len(hits) == 1:
            return hits.pop()
        if hits:
            return None
    return None
