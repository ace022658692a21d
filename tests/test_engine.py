"""Conversation behaviour: the welcome, bad input, back, restart, stale buttons, early stop."""

from __future__ import annotations

import json

import pytest

from bot.engine.engine import Engine
from bot.engine.events import AlertsChoice, Event
from bot.engine.record import Answer, Conversation
from bot.engine.rules import Verdict
from tests.conftest import ELIGIBLE_EN, Patient, with_answers


def test_welcome_says_what_this_is_then_asks_for_consent(engine: Engine) -> None:
    conv = engine.new("en")
    welcome, consent = engine.handle(conv, Event.start()).replies
    assert "not a diagnosis" in welcome.text
    assert "5 minutes" in welcome.text
    assert consent.step == "consent" and "Do you agree?" in consent.text
    result = engine.handle(conv, Event.tap("consent", "agree"))
    assert result.consents == [("health_processing", True, consent.text)]
    (question,) = result.replies
    assert question.step == "diabetes_diagnosed"
    assert [c.id for c in question.choices] == ["yes", "no", "unknown"]
    assert "Question 1 of about" in question.text


def test_declining_consent_ends_kindly_and_asks_nothing(engine: Engine) -> None:
    conv = engine.new("en")
    engine.handle(conv, Event.start())
    result = engine.handle(conv, Event.say("no"))
    assert result.consents[0][:2] == ("health_processing", False)
    assert result.replies[0].kind == "ending" and "/start" in result.replies[0].text
    assert engine.handle(conv, Event.say("yes")).replies[0].kind == "ending"
    again = engine.handle(conv, Event.start()).replies
    assert again[-1].step == "consent"


def test_progress_hint_counts_up(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="hba1c")
    assert patient.asked is not None
    assert "Question 9 of about 30" in patient.asked.text


def test_every_measurement_offers_i_dont_know_except_age(engine: Engine) -> None:
    for question in engine.flow.questions:
        if question.kind == "measurement":
            assert ("unknown" in question.option_ids) == (question.id != "age")


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "x" * 4000, "😀😀", "70 or 71", "-5", "1e9", "45 kg", "abc"],
)
def test_bad_age_gets_a_kind_reply_and_the_same_question(engine: Engine, bad: str) -> None:
    patient = Patient(engine)
    patient.answer("yes")
    before = dict(patient.conv.answers)
    patient.say(bad)
    assert patient.replies[0].kind == "error"
    assert patient.asked is not None and patient.asked.step == "age"
    assert patient.conv.answers == before
    assert len(patient.replies[0].text) < 300


def test_implausible_value_is_questioned_not_accepted(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="height")
    patient.say("300 cm")
    assert patient.replies[0].kind == "error"
    assert "300 cm" in patient.replies[0].text
    assert "height" not in patient.conv.answers
    patient.say("165 cm")
    assert patient.conv.answers["height"].value == "165"


def test_bare_weight_asks_for_the_unit_and_keeps_the_number(engine: Engine) -> None:
    patient = Patient(engine, "zh-Hans")
    patient.run(ELIGIBLE_EN, until="weight")
    patient.say("130")
    asked = patient.asked
    assert asked is not None and asked.step == "weight#unit"
    assert {c.id for c in asked.choices} == {"kg", "jin", "lb"}
    patient.tap("jin")
    assert patient.conv.answers["weight"].value == "65"
    assert patient.conv.answers["weight"].raw == "130"


def test_unit_can_be_typed_instead_of_tapped(engine: Engine) -> None:
    patient = Patient(engine, "zh-Hans")
    patient.run(ELIGIBLE_EN, until="weight")
    patient.say("130")
    patient.say("斤")
    assert patient.conv.answers["weight"].value == "65"


def test_a_full_answer_replaces_the_half_given_one(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="weight")
    patient.say("60")
    patient.say("61 kg")
    assert patient.conv.answers["weight"].value == "61"
    assert patient.conv.state == "hemoglobin"


def test_back_changes_the_last_answer(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="sex")
    patient.send(Event.cmd("back"))
    assert patient.conv.state == "age"
    assert "age" not in patient.conv.answers
    assert "45" in patient.replies[0].text
    patient.say("50")
    assert patient.conv.answers["age"].value == "50"
    assert patient.conv.state == "sex"


def test_back_at_the_first_question_is_harmless(engine: Engine) -> None:
    patient = Patient(engine)
    patient.send(Event.cmd("back"))
    assert patient.conv.state == "diabetes_diagnosed"
    assert patient.asked is not None


def test_restart_clears_everything_but_the_language(engine: Engine) -> None:
    patient = Patient(engine, "zh-Hans")
    patient.run(ELIGIBLE_EN, until="hba1c")
    result = patient.send(Event.cmd("restart"))
    assert result.restarted
    assert patient.conv.answers == {} and patient.conv.history == []
    assert patient.conv.state == "diabetes_diagnosed"
    assert patient.conv.lang == "zh-Hans"


def test_stale_button_gets_a_note_and_the_current_question(engine: Engine) -> None:
    patient = Patient(engine)
    patient.answer("yes")
    patient.say("45")
    before = dict(patient.conv.answers)
    patient.send(Event.tap("diabetes_diagnosed", "no"))
    assert patient.replies[0].kind == "error"
    assert patient.asked is not None and patient.asked.step == "sex"
    assert patient.conv.answers == before


def test_forged_option_is_refused(engine: Engine) -> None:
    patient = Patient(engine)
    patient.send(Event.tap("diabetes_diagnosed", "maybe'; DROP TABLE"))
    assert patient.replies[0].kind == "error"
    assert patient.conv.answers == {}


def test_typed_words_answer_choice_questions(engine: Engine) -> None:
    patient = Patient(engine, "ru")
    patient.say("да")
    assert patient.conv.answers["diabetes_diagnosed"].value == "yes"


def test_sex_other_than_female_or_male_is_asked_again(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="sex")
    patient.say("prefer not to say")
    assert patient.conv.state == "sex"
    assert patient.replies[0].kind == "error"


def test_early_stop_shows_the_deciding_answer_and_allows_a_fix(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(with_answers(age="7"))
    assert patient.conv.state == "confirm:age"
    confirm = patient.replies[-1]
    assert confirm.kind == "confirm" and "7" in confirm.text and "18 to 70" in confirm.text
    patient.tap("change")
    assert patient.conv.state == "age"
    patient.say("70")
    assert patient.conv.state == "sex"


def test_confirmed_failure_ends_kindly_and_offers_other_trials(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(with_answers(age="71"))
    patient.say("yes")
    assert patient.conv.outcome is not None
    assert patient.conv.outcome["outcome"] == "likely_ineligible"
    assert patient.conv.outcome["failed"] == ["age"]
    ending, offer = patient.replies
    assert ending.kind == "ending" and "only the study team" in ending.text.lower()
    assert offer.step == "alerts"
    result = patient.tap("yes")
    assert result.alerts is AlertsChoice.OPT_IN
    assert result.consents == [("trial_alerts", True, offer.text)]
    assert patient.conv.state == "done"


def test_no_diabetes_stops_at_once(engine: Engine) -> None:
    patient = Patient(engine)
    patient.answer("no")
    assert patient.conv.state == "confirm:diabetes_diagnosed"
    patient.tap("confirm")
    assert patient.conv.outcome is not None
    assert patient.conv.outcome["failed"] == ["diagnosis"]


def test_ketoacidosis_yes_shows_urgent_advice_first(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(with_answers(dka_uncontrolled="yes"))
    urgent = patient.replies[0]
    assert urgent.kind == "urgent" and "120" in urgent.text


def test_answers_to_questions_no_longer_asked_do_not_count(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN)
    answers = dict(patient.conv.answers)
    answers["sex"], answers["pregnant"] = Answer("male"), Answer("yes")
    verdicts = engine.flow.evaluate(engine.flow.view(answers))
    assert verdicts["pregnancy"] is Verdict.PASS
    answers["sex"] = Answer("female")
    assert engine.flow.evaluate(engine.flow.view(answers))["pregnancy"] is Verdict.FAIL


def test_finished_conversation_says_how_to_start_again(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN)
    assert patient.conv.state == "share"
    patient.tap("no")
    assert patient.conv.state == "done"
    patient.say("hello?")
    assert "/restart" in patient.texts()


def test_record_round_trips_through_json(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="weight")
    patient.say("60")  # a half-given answer waits for its unit
    data = json.loads(json.dumps(patient.conv.to_json()))
    restored = Conversation.from_json(data)
    assert restored == patient.conv
    result = engine.handle(restored, Event.tap("weight#unit", "kg"))
    assert restored.answers["weight"].value == "60"
    assert result.answered[0][0] == "weight"


def test_record_stays_small(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN)
    assert len(json.dumps(patient.conv.to_json(), separators=(",", ":"))) < 2048


def test_language_can_change_mid_way(engine: Engine) -> None:
    patient = Patient(engine)
    patient.answer("yes")
    patient.send(Event.cmd("language", "zh-Hans"))
    assert patient.conv.lang == "zh-Hans"
    assert patient.asked is not None and patient.asked.step == "age"
    menu = engine.handle(patient.conv, Event.cmd("language"))
    assert len(menu.replies[0].choices) == 6


def test_start_again_mid_way_resumes(engine: Engine) -> None:
    patient = Patient(engine)
    patient.answer("yes")
    patient.send(Event.start())
    assert patient.asked is not None and patient.asked.step == "age"
    assert patient.conv.answers["diabetes_diagnosed"].value == "yes"


def test_one_machine_serves_every_conversation(engine: Engine) -> None:
    machine = engine.machine.machine
    models_before = list(machine.models)
    for _ in range(20):
        Patient(engine).run(ELIGIBLE_EN)
    assert list(machine.models) == models_before == []


def test_stickers_photos_and_edits_get_a_polite_reply_and_the_question(engine: Engine) -> None:
    patient = Patient(engine)
    patient.answer("yes")
    for what in ("sticker", "photo", "voice", "location", "document", "edited"):
        patient.send(Event.other(what))
        assert patient.asked is not None and patient.asked.step == "age"
    assert "/back" in patient.replies[0].text  # the edited-message note


def test_faq_and_privacy_answer_then_return_to_the_question(engine: Engine) -> None:
    patient = Patient(engine)
    patient.send(Event.cmd("faq"))
    assert "clinical trial" in patient.replies[0].text
    assert patient.asked is not None and patient.asked.step == "diabetes_diagnosed"
    patient.send(Event.cmd("privacy"))
    assert "30 days" in patient.replies[0].text and "/delete" in patient.replies[0].text


def test_delete_asks_first_and_erases_only_when_confirmed(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="hba1c")
    patient.send(Event.cmd("delete"))
    assert patient.asked is not None and patient.asked.step == "delete"
    kept = patient.tap("keep")
    assert not kept.erase and patient.conv.answers
    patient.send(Event.cmd("delete"))
    erased = patient.tap("erase")
    assert erased.erase
    assert patient.conv.answers == {} and patient.conv.state == "consent"
