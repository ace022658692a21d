"""Catalog checks: complete in six languages, no fuzzy entries, placeholders kept, plain English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import textstat
from babel.messages.frontend import CommandLineInterface

from bot.engine.engine import Engine
from bot.engine.render import Renderer
from bot.i18n import LANGUAGES
from bot.i18n.check import problems, read_catalog
from bot.i18n.languages import locales_dir

MAX_GRADE = 6.0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_is_complete_and_keeps_placeholders(lang: str) -> None:
    assert problems(lang) == []


def test_the_template_is_current(tmp_path: Path) -> None:
    """The committed .pot holds exactly what the code and flows use (run `make update-catalogs`)."""
    root = Path(__file__).resolve().parents[1]
    fresh = tmp_path / "fresh.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(root / "pyproject.toml"),
            "-k",
            "N_",
            "-o",
            str(fresh),
            str(root),
        ]
    )

    def ids(path: Path) -> set[tuple[str | None, str]]:
        return {
            (m.context, str(m.id if isinstance(m.id, str) else m.id[0]))
            for m in read_catalog(path)
            if m.id
        }

    assert ids(fresh) == ids(locales_dir() / "messages.pot")


def test_plural_forms_come_from_the_catalogs() -> None:
    from bot.i18n import get_catalogs

    ru = get_catalogs().get("ru")
    forms = {ru.ngettext("about {n} minute", "about {n} minutes", n) for n in (1, 3, 5)}
    assert len(forms) == 3
    ar = get_catalogs().get("ar")
    assert len({ar.ngettext("about {n} minute", "about {n} minutes", n) for n in (1, 2, 5)}) == 3


def plain(text: str) -> str:
    """Return text as the readability check sees it: placeholders and (medical terms) removed.

    The spec asks for the plain word first and the medical term second, in brackets; the
    grade applies to the plain words.
    """
    text = re.sub(r"\{\w+\}", "", text)
    text = re.sub(r"\([^)]*\)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def grade(text: str) -> float:
    """Return the Flesch-Kincaid grade of ``text``."""
    return float(textstat.flesch_kincaid_grade(plain(text)))


def english_texts(engine: Engine) -> list[tuple[str, str]]:
    """Every English question, option list and ending, as the patient reads them."""
    texts: list[tuple[str, str]] = []
    for question in engine.flow.questions:
        texts.append((f"question {question.id}", question.text))
        if question.why:
            texts.append((f"why {question.id}", question.why))
        texts.append((f"options {question.id}", ". ".join(o.label for o in question.options) + "."))
    for situation in engine.flow.safety.situations:
        texts.append((f"urgent {situation.id}", situation.advice))
    for criterion in engine.flow.criteria:
        texts.append((f"reason {criterion.id}", criterion.fail_text))
        texts.append((f"unknown {criterion.id}", criterion.unknown_text))
    return texts


def test_english_is_plain_enough_for_a_twelve_year_old(engine: Engine) -> None:
    too_hard = [
        (where, round(grade(text), 1))
        for where, text in english_texts(engine)
        if grade(text) > MAX_GRADE
    ]
    assert too_hard == []


@pytest.mark.parametrize("outcome", ["likely_eligible", "needs_review", "likely_ineligible"])
def test_endings_are_plain(engine: Engine, outcome: str) -> None:
    from tests.conftest import Patient

    renderer: Renderer = engine.render
    patient = Patient(engine)
    ending = renderer.ending(patient.conv, outcome, ["age"], ["bmi"])
    assert grade(ending.text) <= MAX_GRADE, ending.text
