"""Property tests: any events leave a valid state; the outcome follows the final answers only.

The default profile ("ci") has a fixed budget; ``HYPOTHESIS_PROFILE=long`` runs many more
examples: ``HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_properties.py``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine.engine import Engine, load_engine
from bot.engine.events import Event
from bot.engine.record import Conversation
from bot.engine.rules import Verdict
from tests.conftest import ELIGIBLE_EN, with_answers

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "long", max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ENGINE: Engine = load_engine()
STEPS = [q.id for q in ENGINE.flow.questions] + [
    "consent",
    "share",
    "phone",
    "alerts",
    "language",
    "delete",
]
OPTIONS = [
    "yes",
    "no",
    "unknown",
    "female",
    "male",
    "type1",
    "type2",
    "confirm",
    "change",
    "agree",
    "kg",
    "zz",
]
WEIRD = [
    "",
    " ",
    "\u200b",
    "\u200f\u202e",
    "😀" * 3,
    "x" * 4096,
    "70 or 71",
    "-5",
    "1e9",
    "<b>&*",
    "'; DROP",
    "\x00",
]

texts = st.one_of(
    st.text(max_size=60), st.sampled_from(WEIRD), st.sampled_from(list(ELIGIBLE_EN.values()))
)
events = st.one_of(
    texts.map(Event.say),
    st.tuples(st.sampled_from(STEPS), st.sampled_from(OPTIONS)).map(lambda so: Event.tap(*so)),
    st.sampled_from(["back", "restart", "help", "language", "faq", "privacy", "delete"]).map(
        Event.cmd
    ),
    st.sampled_from(["sticker", "edited"]).map(Event.other),
    st.sampled_from(["", "zh-Hans", "ar", "xx"]).map(Event.start),
    texts.map(Event.contact),
)


def valid(conv: Conversation) -> None:
    """Assert the record is one the engine can continue from, and round-trips through JSON."""
    data = json.loads(json.dumps(conv.to_json()))
    assert Conversation.from_json(data) == conv
    assert ENGINE.knows_state(conv.state)
    for fact in conv.answers:
        assert ENGINE.flow.has_question(fact)
    assert all(ENGINE.flow.has_question(q) for q in conv.history)


@given(
    st.sampled_from(["en", "zh-Hans", "zh-Hant", "es", "ru", "ar"]), st.lists(events, max_size=40)
)
def test_any_events_never_raise_and_leave_a_valid_state(lang: str, sequence: list[Event]) -> None:
    conv = ENGINE.new(lang)
    for event in sequence:
        result = ENGINE.handle(conv, event)
        assert result.replies, f"no reply to {event}"
        assert all(len(r.text) <= 4096 for r in result.replies)
        valid(conv)


def finish(conv: Conversation, answers: dict[str, str]) -> dict[str, Any]:
    """Answer every question still asked from ``answers``, confirming any deciding answer."""
    for _ in range(200):
        state = conv.state
        if conv.outcome is not None:
            return conv.outcome
        if state == "consent":
            ENGINE.handle(conv, Event.tap("consent", "agree"))
        elif state.startswith("confirm:"):
            ENGINE.handle(conv, Event.tap(state, "confirm"))
        else:
            value = answers[state]
            question = ENGINE.flow.question(state)
            event = Event.tap(state, value) if value in question.option_ids else Event.say(value)
            ENGINE.handle(conv, event)
    raise AssertionError("did not finish")


profiles = st.fixed_dictionaries(
    {
        "age": st.sampled_from(["17", "18", "45", "70", "71"]),
        "sex": st.sampled_from(["female", "male"]),
        "diabetes_type": st.sampled_from(["type1", "type2", "pancreatectomy", "unknown"]),
        "hba1c": st.sampled_from(["6.9%", "7%", "53 mmol/mol", "unknown"]),
        "hemoglobin": st.sampled_from(["7.5 g/dL", "13 g/dL", "unknown"]),
        "tumor": st.sampled_from(["yes", "no", "unknown"]),
        "severe_organ_disease": st.sampled_from(["yes", "no"]),
        "diabetes_organ_complications": st.sampled_from(["yes", "no"]),
    }
).map(lambda changes: with_answers(**changes))

detours = st.lists(
    st.one_of(
        st.just(Event.cmd("back")),
        st.just(Event.cmd("restart")),
        st.just(Event.cmd("help")),
        texts.map(Event.say),
    ),
    max_size=8,
)


def decided_by_rules(conv: Conversation) -> tuple[str, list[str], list[str]]:
    """Return the outcome the rules give for the conversation's final answers alone."""
    verdicts = ENGINE.flow.evaluate(ENGINE.flow.view(conv.answers))
    failed = [c for c, v in verdicts.items() if v is Verdict.FAIL]
    unknown = [c for c, v in verdicts.items() if v is Verdict.UNKNOWN]
    outcome = "likely_ineligible" if failed else "needs_review" if unknown else "likely_eligible"
    return outcome, failed, unknown


@given(profiles, detours)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_the_outcome_depends_only_on_the_final_answers(
    answers: dict[str, str], detour: list[Event]
) -> None:
    conv = ENGINE.new("en")
    ENGINE.handle(conv, Event.tap("consent", "agree"))
    for event in detour:
        if conv.outcome is None and not conv.state.startswith("confirm:"):
            ENGINE.handle(conv, event)
    got = finish(conv, answers)
    assert (got["outcome"], got["failed"], got["unknown"]) == decided_by_rules(conv)


@given(profiles)
def test_back_and_restart_then_the_same_answers_give_the_same_outcome(
    answers: dict[str, str],
) -> None:
    straight = finish(ENGINE.new("en"), answers)
    winding = ENGINE.new("en")
    ENGINE.handle(winding, Event.tap("consent", "agree"))
    ENGINE.handle(winding, Event.tap("diabetes_diagnosed", "yes"))
    ENGINE.handle(winding, Event.cmd("back"))
    ENGINE.handle(winding, Event.cmd("restart"))
    again = finish(winding, answers)
    assert (again["outcome"], again["failed"], again["unknown"]) == (
        straight["outcome"],
        straight["failed"],
        straight["unknown"],
    )
