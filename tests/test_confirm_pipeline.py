"""Readings to confirm, unclear answers and bounds through the real understanding pipeline
(tests/test_confirm.py checks the engine's handling of each kind of reading on its own)."""

from __future__ import annotations

import pytest

from bot.channels.replay import run_profile
from bot.engine.engine import Engine
from tests.conftest import ELIGIBLE_EN, Patient, outcome_of, with_answers


def at(engine: Engine, qid: str, lang: str = "en") -> Patient:
    """Return a patient who has answered the eligible profile up to question ``qid``."""
    patient = Patient(engine, lang)
    patient.run(ELIGIBLE_EN, until=qid)
    return patient


@pytest.mark.parametrize(
    ("lang", "typed", "offer"),
    [
        ("en", "I think so", "Do you mean: Yes?"),
        ("en", "probably not", "Do you mean: No?"),
        ("en", "👍", "Do you mean: Yes?"),
        ("zh-Hans", "好像有", "您是说“是”吗？"),
        ("ru", "вроде нет", "Вы имеете в виду: Нет?"),
    ],
)
def test_a_hedge_is_offered_and_confirmed(
    engine: Engine, lang: str, typed: str, offer: str
) -> None:
    patient = at(engine, "hiv", lang)
    patient.say(typed)
    asked = patient.asked
    assert asked is not None and asked.text == offer and asked.step == "hiv#check"
    assert len(patient.replies) == 1  # the offer alone, no complaint
    assert patient.last.answered == []
    patient.tap("yes")
    ((fact, answer),) = patient.last.answered
    assert fact == "hiv" and answer.confirmed and answer.raw == typed


def test_a_hedged_number_is_offered_with_its_unit(engine: Engine) -> None:
    patient = at(engine, "age")
    patient.say("I think 45")
    asked = patient.asked
    assert asked is not None and asked.text == "Do you mean: 45 years?"
    patient.tap("yes")
    assert patient.conv.answers["age"].value == "45" and patient.conv.answers["age"].confirmed


def test_an_unknown_unit_is_named_back(engine: Engine) -> None:
    patient = at(engine, "c_peptide_fasting")
    patient.say("0.3 nanomol")
    assert patient.replies[0].text.startswith('I did not recognise the unit "nanomol".')
    assert "nmol/L" in patient.replies[0].text


@pytest.mark.parametrize(
    ("answers", "outcome", "unknown"),
    [
        ({"c_peptide_fasting": "<0.1 nmol/L"}, "likely_eligible", []),
        ({"c_peptide_fasting": "less than 0.3 nmol/L"}, "needs_review", ["islet_failure"]),
        ({"c_peptide_fasting": "<0.01 nmol/L"}, "likely_eligible", []),
        ({"hba1c": ">7 %"}, "likely_eligible", []),
    ],
)
def test_bounds_as_the_spec_reads_them(
    engine: Engine, answers: dict[str, str], outcome: str, unknown: list[str]
) -> None:
    result = outcome_of(engine, with_answers(**answers))
    assert (result["outcome"], result["unknown"]) == (outcome, unknown)


def test_a_bound_that_fails_is_shown_with_its_sign(engine: Engine) -> None:
    patient = at(engine, "hba1c")
    patient.say("<6.5 %")
    assert patient.conv.state == "confirm:hba1c"
    assert patient.conv.answers["hba1c"].value == "<6.5"
    assert "You answered: <6.5 %" in patient.texts()


def test_replay_confirms_a_hedge_and_lists_it(engine: Engine) -> None:
    answers = with_answers(hiv="probably not", tumor="I think not")
    line = run_profile(engine, {"id": "h1", "language": "en", "answers": answers})
    assert line["outcome"] == "likely_eligible"
    assert line["confirmed"] == ["hiv", "tumor"]


@pytest.mark.parametrize(("choose", "kg"), [("tai_jin", "78"), ("jin", "65"), ("台斤", "78")])
def test_a_zh_hant_jin_asks_which_jin(engine: Engine, choose: str, kg: str) -> None:
    patient = at(engine, "weight", "zh-Hant")
    patient.say("130斤")
    asked = patient.asked
    assert asked is not None and asked.step == "weight#unit"
    assert [c.id for c in asked.choices] == ["tai_jin", "jin"]
    patient.answer(choose)
    assert patient.conv.answers["weight"].value == kg


def test_a_bound_outside_the_plausible_range_is_questioned(engine: Engine) -> None:
    patient = at(engine, "hba1c")
    patient.say(">25 %")
    assert patient.last.answered == []
    assert "too high or too low" in patient.replies[0].text


def test_a_bare_bound_asks_for_its_unit_and_keeps_its_sign(engine: Engine) -> None:
    patient = at(engine, "c_peptide_fasting")
    patient.say("<0.1")
    assert patient.asked is not None and patient.asked.step == "c_peptide_fasting#unit"
    patient.tap("nmol_l")
    assert patient.conv.answers["c_peptide_fasting"].value == "<0.1"
