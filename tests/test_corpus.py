"""Everyday answers in six languages: none read wrongly, nearly all understood.

Reads every ``tests/data/corpus/*.yaml`` (written by people who never saw the word
lists) and the smaller ``tests/understanding/*.yaml``. Each entry is a typed answer
``text`` at question ``q`` of the NCT06751199 flow, with the reading it must get
(``read``) and how sure the bot may be (``mode``: clear, confirm or ask).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.engine import answers
from bot.engine.flow import Flow, Question, load_flow
from bot.engine.understanding import Reading, read_choice, read_measurement
from bot.i18n.catalogs import get_catalogs

ROOT = Path(__file__).parent
CORPUS_DIRS = (ROOT / "data" / "corpus", ROOT / "understanding")
FLOW = ROOT.parent / "flows" / "nct06751199.yaml"
MIN_UNDERSTOOD = Decimal("0.95")
MAX_CONFIRMED = Decimal("0.05")
BOUNDS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


@dataclass(frozen=True)
class Entry:
    source: str
    lang: str
    q: str
    text: str
    read: str | None
    mode: str


def _entries() -> list[Entry]:
    entries: list[Entry] = []
    for directory in CORPUS_DIRS:
        for path in sorted(directory.glob("*.yaml")):
            data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
            lang = data["language"]
            for i, raw in enumerate(data["entries"]):
                read = raw.get("read")
                entries.append(
                    Entry(
                        f"{path.relative_to(ROOT)}#{i}",
                        lang,
                        raw["q"],
                        str(raw["text"]),
                        None if read is None else str(read),
                        raw.get("mode", "clear"),
                    )
                )
    return entries


ENTRIES = _entries()


@cache
def _flow() -> Flow:
    return load_flow(FLOW)


def read(entry: Entry) -> Reading:
    """Ask the pipeline for the reading of ``entry`` as the engine would."""
    question = _flow().question(entry.q)
    if question.kind == "choice":
        t = get_catalogs().get(entry.lang)
        labels = [(o.id, t.pgettext("option", o.label)) for o in question.options]
        asked = t.pgettext(question.id, question.text)
        return read_choice(entry.text, labels, entry.lang, question=asked)
    assert question.measure is not None
    return read_measurement(entry.text, question.measure, entry.lang)


def _said(question: Question, reading: Reading) -> str | None:
    """What ``reading`` says, in the corpus's notation (None: nothing)."""
    if question.kind == "choice":
        return reading.option
    measured = reading.measured
    if measured is None:
        return None
    if measured.status == "unknown":
        return "unknown"
    if measured.status != "ok" or measured.value is None:
        return None
    sign = {v: k for k, v in BOUNDS.items()}.get(measured.bound or "", "")
    return f"{sign} {measured.value.normalize()}".strip()


def _expected(question: Question, read: str) -> str:
    """``read`` in the notation of :func:`_said`, converted to the canonical unit."""
    if question.kind == "choice" or read == "unknown":
        return read
    parts = read.split()
    sign = parts.pop(0) if parts[0] in BOUNDS else ""
    number, unit = Decimal(parts[0]), parts[1]
    assert question.measure is not None
    value = answers.convert(number, unit, question.measure.quantity)
    return f"{sign} {value.normalize()}".strip()


def outcome(entry: Entry) -> str:
    """understood / confirm / asked (as wanted) or wrong."""
    question = _flow().question(entry.q)
    reading = read(entry)
    said = _said(question, reading)
    want = None if entry.read is None else _expected(question, entry.read)
    if reading.status == "unclear":
        return "asked"
    if entry.mode == "ask" or said != want:
        return "wrong"
    if reading.status == "understood":
        return "wrong" if entry.mode == "confirm" else "understood"
    return "confirm"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.source for e in ENTRIES])
def test_never_read_wrongly(entry: Entry) -> None:
    reading = read(entry)
    assert outcome(entry) != "wrong", f"{entry.text!r} at {entry.q}: {reading}"


def test_corpus_is_there() -> None:
    assert {e.lang for e in ENTRIES} == {"en", "zh-Hans", "zh-Hant", "es", "ru", "ar"}


def test_clear_answers_are_understood_per_language() -> None:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in ENTRIES:
        if entry.mode == "clear":
            counts[entry.lang][outcome(entry)] += 1
    failures = []
    for lang, count in sorted(counts.items()):
        total = sum(count.values())
        understood = Decimal(count["understood"]) / total
        confirmed = Decimal(count["confirm"]) / total
        print(
            f"corpus {lang}: {total} clear answers, understood {understood:.1%}, "
            f"confirm {confirmed:.1%}, asked {count['asked'] / total:.1%}"
        )
        if understood < MIN_UNDERSTOOD or confirmed > MAX_CONFIRMED:
            failures.append(f"{lang}: understood {understood:.1%}, confirm {confirmed:.1%}")
    assert not failures, failures
