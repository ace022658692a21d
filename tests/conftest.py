"""Shared fixtures: the real flow's engine, built once, and a scripted patient."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.engine.engine import Engine, load_engine
from bot.engine.events import Event, Reply, Result
from bot.engine.record import Conversation

DATA = Path(__file__).parent / "data"
STOPS = ("done", "alerts", "share", "phone", "name", "email", "best_time", "call_lang")


_SLOW_DESELECTED = pytest.StashKey[int]()


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count the long variants that ``-m 'not slow'`` (the default) leaves out."""
    if not items:
        return
    config = items[0].config
    slow = sum(item.get_closest_marker("slow") is not None for item in items)
    config.stash[_SLOW_DESELECTED] = config.stash.get(_SLOW_DESELECTED, 0) + slow


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say how many long variants did not run, and how to run them (never a silent skip)."""
    slow = config.stash.get(_SLOW_DESELECTED, 0)
    if slow:
        many = slow != 1
        terminalreporter.write_line(
            f"{slow} long variant{'s' if many else ''} marked slow not run here: "
            f"`make test-long` runs {'them' if many else 'it'} (pytest -m slow)",
            yellow=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def engine() -> Engine:
    """Return the NCT06751199 engine (one Machine for the whole session)."""
    return load_engine("nct06751199")


class Patient:
    """A scripted patient: answers by tapping option ids or typing text."""

    def __init__(self, engine: Engine, lang: str = "en") -> None:
        self.engine = engine
        self.conv: Conversation = engine.new(lang)
        engine.handle(self.conv, Event.start())
        self.last: Result = engine.handle(self.conv, Event.tap("consent", "agree"))

    @property
    def replies(self) -> list[Reply]:
        """Return the replies to the last event."""
        return self.last.replies

    @property
    def asked(self) -> Reply | None:
        """Return the last reply that asked something."""
        return next((r for r in reversed(self.replies) if r.step), None)

    def send(self, event: Event) -> Result:
        """Send one event."""
        self.last = self.engine.handle(self.conv, event)
        return self.last

    def say(self, text: str) -> Result:
        """Type text."""
        return self.send(Event.say(text))

    def tap(self, option: str) -> Result:
        """Tap an option of the current question."""
        asked = self.asked
        assert asked is not None, "nothing was asked"
        return self.send(Event.tap(asked.step, option))

    def answer(self, value: str) -> Result:
        """Tap when ``value`` is an option id of the current question, else type it."""
        asked = self.asked
        if asked is not None and any(c.id == value for c in asked.choices):
            return self.tap(value)
        return self.say(value)

    def run(self, answers: dict[str, str], until: str | None = None) -> None:
        """Answer questions from ``answers`` as they come, until ``until`` or the end."""
        for _ in range(100):
            state = self.conv.state
            if state == until or state in STOPS or state.startswith("confirm:"):
                return
            self.answer(answers[state])
        raise AssertionError("conversation did not end")

    def texts(self) -> str:
        """Return the last replies' texts joined."""
        return "\n".join(r.text for r in self.replies)


ELIGIBLE_EN: dict[str, str] = {
    "diabetes_diagnosed": "yes",
    "age": "45",
    "sex": "female",
    "diabetes_type": "type1",
    "frequent_hypoglycemia": "yes",
    "severe_hypoglycemia_12m": "no",
    "diabetes_organ_complications": "no",
    "dka_uncontrolled": "no",
    "hba1c": "8.5%",
    "c_peptide_fasting": "0.05 nmol/L",
    "c_peptide_2h": "0.1 nmol/L",
    "height": "165 cm",
    "weight": "60 kg",
    "hemoglobin": "13 g/dL",
    "severe_allergies": "no",
    "hiv": "no",
    "hepatitis": "no",
    "uncontrolled_infection": "no",
    "acute_pancreatitis_history": "no",
    "thrombosis_history": "no",
    "severe_organ_disease": "no",
    "pregnant": "no",
    "pregnancy_planned": "no",
    "breastfeeding": "no",
    "mental_illness": "no",
    "substance_abuse": "no",
    "tumor": "no",
    "other_autoimmune": "no",
    "blood_disorder": "no",
    "willing_to_consent": "yes",
}


def with_answers(**changes: str) -> dict[str, str]:
    """Return the eligible profile with some answers changed."""
    return {**ELIGIBLE_EN, **changes}


def outcome_of(engine: Engine, answers: dict[str, str], lang: str = "en") -> dict[str, object]:
    """Run a whole profile, confirming any deciding answer; return the outcome."""
    patient = Patient(engine, lang)
    for _ in range(5):
        patient.run(answers)
        if patient.conv.state.startswith("confirm:"):
            patient.tap("confirm")
        if patient.conv.state in STOPS:
            break
    assert patient.conv.outcome is not None
    return patient.conv.outcome


def ids(items: Iterable[str]) -> list[str]:
    """Return a list (for readable assertions)."""
    return list(items)
