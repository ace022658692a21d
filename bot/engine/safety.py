"""The safety layer: urgent situations, recognised in answers and typed words, shown first.

A flow's ``safety`` section names the situations (``dka_now``, ``severe_hypo_now``...):
each has plain advice, the answers that raise it (``{dka_uncontrolled: ["yes"]}``) and
the sign set whose words recognise it in typed text (``bot/engine/safety.yaml``), and the
emergency numbers by place. :class:`SafetyLayer` runs around one event: it shows the
advice before every other reply, asks the same step again when urgent words were not an
answer (nothing given is lost), and repeats the advice when the screening ends.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.engine.errors import FlowError
from bot.engine.events import Event, Reply, Result
from bot.engine.record import Conversation
from bot.engine.rules import FactInfo
from bot.i18n.languages import LANGUAGES

if TYPE_CHECKING:
    from bot.engine.render import Renderer

SIGNS_PATH = Path(__file__).with_name("safety.yaml")
_SAFETY_KEYS = frozenset({"emergency", "situations"})
_SITUATION_KEYS = frozenset({"id", "advice", "answers", "signs"})
_WORD_START = re.compile(r"[a-zа-я]")  # Latin and Cyrillic words are matched at a word start

Pattern = tuple[tuple[str, ...], ...]  # word groups; every group must have a word in the text


@dataclass(frozen=True)
class Emergency:
    """An emergency number and the place it is for (English source text)."""

    place: str
    number: str


@dataclass(frozen=True)
class Situation:
    """One urgent situation: its advice and what raises it."""

    id: str
    advice: str
    answers: Mapping[str, frozenset[str]]  # question id -> option ids that raise it
    signs: str = ""  # a sign set of safety.yaml; empty: raised by answers only


@dataclass(frozen=True)
class Safety:
    """A flow's urgent situations and emergency numbers."""

    situations: tuple[Situation, ...] = ()
    emergency: tuple[Emergency, ...] = ()

    def situation(self, sid: str) -> Situation:
        """Return the situation called ``sid``."""
        return next(s for s in self.situations if s.id == sid)

    def raised_by_answer(self, qid: str, value: str) -> list[Situation]:
        """Return the situations an answer raises."""
        return [s for s in self.situations if value in s.answers.get(qid, ())]

    def recognise(self, text: str) -> list[Situation]:
        """Return the situations whose words appear in ``text`` (in any language)."""
        folded = normalise(text)
        signs = load_signs()
        return [
            s
            for s in self.situations
            if s.signs and any(_matches(p, folded) for p in signs[s.signs])
        ]


def normalise(text: str) -> str:
    """Fold case, accents and Arabic hamza forms, and collapse spaces, for matching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(kept.replace("\u0640", "").replace("’", "'").split())


def _compile(words: list[str]) -> re.Pattern[str]:
    """Return one expression finding any of ``words`` (one search per word group)."""
    parts = []
    for word in words:
        folded = normalise(word)
        start = r"(?<!\w)" if _WORD_START.match(folded) else ""
        parts.append(start + re.escape(folded))
    return re.compile("|".join(parts))


def _matches(pattern: tuple[re.Pattern[str], ...], text: str) -> bool:
    return all(group.search(text) for group in pattern)


@cache
def load_signs(path: Path = SIGNS_PATH) -> dict[str, list[tuple[re.Pattern[str], ...]]]:
    """Load and check the sign sets: every set has patterns in all six languages."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise FlowError(str(path), "file", "must be a mapping of sign sets")
    signs: dict[str, list[tuple[re.Pattern[str], ...]]] = {}
    for name, by_lang in data.items():
        if not isinstance(by_lang, dict) or set(by_lang) != set(LANGUAGES):
            raise FlowError(str(path), f"sign set {name!r}", f"needs exactly {list(LANGUAGES)}")
        patterns = []
        for lang, raw in by_lang.items():
            for pattern in raw or []:
                if not pattern or not all(
                    isinstance(g, list) and g and all(isinstance(w, str) for w in g)
                    for g in pattern
                ):
                    raise FlowError(
                        str(path), f"sign set {name!r} {lang}", "a pattern is a list of word lists"
                    )
                patterns.append(tuple(_compile(group) for group in pattern))
        signs[str(name)] = patterns
    return signs


def parse_safety(raw: Any, infos: Mapping[str, FactInfo], source: str) -> Safety:
    """Validate a flow's ``safety`` section against its questions and the sign sets."""
    if raw is None:
        return Safety()
    if not isinstance(raw, dict) or set(raw) - _SAFETY_KEYS:
        raise FlowError(source, "safety", f"must be a mapping with keys {sorted(_SAFETY_KEYS)}")
    emergency = []
    for item in raw.get("emergency") or []:
        if not isinstance(item, dict) or set(item) != {"place", "number"}:
            raise FlowError(source, "safety emergency", f"needs 'place' and 'number': {item!r}")
        emergency.append(Emergency(str(item["place"]), str(item["number"])))
    situations = [_situation(item, infos, source) for item in raw.get("situations") or []]
    ids = [s.id for s in situations]
    if len(set(ids)) != len(ids):
        raise FlowError(source, "safety", f"duplicate situation ids {ids}")
    if situations and not emergency:
        raise FlowError(source, "safety", "urgent advice needs 'emergency' numbers")
    return Safety(tuple(situations), tuple(emergency))


def _situation(item: Any, infos: Mapping[str, FactInfo], source: str) -> Situation:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise FlowError(source, "safety", f"a situation needs an 'id': {item!r}")
    where = f"safety situation {item['id']!r}"
    if set(item) - _SITUATION_KEYS:
        raise FlowError(source, where, f"unknown key(s) {sorted(set(item) - _SITUATION_KEYS)}")
    if not isinstance(item.get("advice"), str) or not item["advice"].strip():
        raise FlowError(source, where, "'advice' must be a non-empty str")
    answers: dict[str, frozenset[str]] = {}
    for qid, values in (item.get("answers") or {}).items():
        if qid not in infos:
            raise FlowError(source, where, f"unknown question {qid!r}")
        if not isinstance(values, list) or not set(values) <= infos[qid].options:
            raise FlowError(source, where, f"'answers.{qid}' must list option ids of {qid!r}")
        answers[qid] = frozenset(values)
    signs = item.get("signs", "")
    if signs and signs not in load_signs():
        raise FlowError(source, where, f"unknown sign set {signs!r} (see {SIGNS_PATH.name})")
    if not answers and not signs:
        raise FlowError(source, where, "needs 'answers' or 'signs'")
    return Situation(item["id"], item["advice"], answers, signs)


class SafetyLayer:
    """Runs around one event: urgent advice first, the step again, advice again at the end."""

    def __init__(self, safety: Safety, render: Renderer) -> None:
        self.safety = safety
        self.render = render

    def before(self, conv: Conversation, event: Event) -> tuple[list[Situation], Conversation]:
        """Recognise urgent words in a typed text; keep the record as it was."""
        found = self.safety.recognise(event.text) if event.kind == "text" else []
        return found, copy.deepcopy(conv) if found else conv

    def after(
        self,
        conv: Conversation,
        result: Result,
        seen: tuple[list[Situation], Conversation],
        reprompt: Callable[[Conversation, Result], None],
    ) -> None:
        """Put advice first; when urgent words were no answer, undo and ask the step again."""
        found, before = seen
        if result.restarted or result.erase:
            conv.urgent = []
        if found and not _answered(result):
            _restore(conv, before)
            result.replies.clear()
            reprompt(conv, result)
        raised = list(found)
        for qid, answer in result.answered:
            raised += self.safety.raised_by_answer(qid, answer.value)
        unique = list(dict.fromkeys(s.id for s in raised))
        conv.urgent = list(dict.fromkeys([*conv.urgent, *unique]))
        advice = [self.render.urgent(conv, self.safety.situation(sid)) for sid in unique]
        replies = [*advice, *result.replies]
        if result.outcome is not None and conv.urgent:
            at = next((i for i, r in enumerate(replies) if r.kind == "ending"), len(replies))
            replies[at + 1 : at + 1] = self._reminders(conv)
        result.replies[:] = replies

    def _reminders(self, conv: Conversation) -> list[Reply]:
        return [
            self.render.urgent(conv, self.safety.situation(sid), again=True)
            for sid in conv.urgent
            if any(s.id == sid for s in self.safety.situations)
        ]


def _answered(result: Result) -> bool:
    """Return True when the event was taken as an answer (so urgent words were one too)."""
    return bool(result.answered or result.consents or result.outcome or result.referral) or (
        result.alerts is not None
    )


def _restore(conv: Conversation, before: Conversation) -> None:
    for name, value in vars(before).items():
        setattr(conv, name, value)
