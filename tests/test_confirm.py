"""Readings offered as one tap ("Do you mean: Yes?"): accept, reject, "I don't know", a new
answer typed instead; what the bot says when it cannot read an answer; bounds and assumed
units shown back."""

from __future__ import annotations

import json

import pytest

from bot.channels.replay import run_profile
from bot.engine.answering import CHECK_SUFFIX
from bot.engine.answers import Measured
from bot.engine.engine import Engine
from bot.engine.events import Event
from bot.engine.record import Answer, Conversation
from bot.engine.understanding import Reading
from tests.conftest import ELIGIBLE_EN, Patient, outcome_of, with_answers
from tests.readings import measured, proposed, script

HEDGED_YES = "I think so"
HEDGED_NO = "probably not"
HEDGED_AGE = "forty-five, I think"
TYPO_TYPE_2 = "tipe 2"


@pytest.fixture(autouse=True)
def readings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the test's phrases as the understanding pipeline is specified to."""
    script(
        monkeypatch,
        {
            HEDGED_YES: proposed("yes"),
            HEDGED_NO: proposed("no"),
            TYPO_TYPE_2: proposed("type2", "typo"),
            "好像有": proposed("yes"),
            "вроде нет": proposed("no"),
            HEDGED_AGE: measured("45", "years", status="confirm"),
            "130斤吧": measured("65", "jin", status="confirm", number="130"),
            "<0.1 nmol/L": measured("0.1", "nmol_l", bound="lt"),
            "<0.3 nmol/L": measured("0.3", "nmol_l", bound="lt"),
            "<0.01": measured("0.01", "nmol_l", bound="lt"),
            "<6.5 %": measured("6.5", "percent", bound="lt"),
            "type 1 and 2": Reading("unclear", problem="several"),
            "yes and no": Reading("unclear", problem="contradiction"),
            "dunno": Reading("unclear", problem="unknown_not_offered"),
            "0.3 nanomol": Reading(
                "unclear", measured=Measured("invalid"), problem="unknown_unit", detail="nanomol"
            ),
        },
    )


def at(engine: Engine, qid: str, lang: str = "en") -> Patient:
    """Return a patient who has answered the eligible profile up to question ``qid``."""
    patient = Patient(engine, lang)
    patient.run(ELIGIBLE_EN, until=qid)
    assert patient.conv.state == qid
    return patient


def offered(patient: Patient, qid: str) -> None:
    """Assert that the bot offers a reading of the last typed answer to confirm."""
    asked = patient.asked
    assert asked is not None and asked.step == qid + CHECK_SUFFIX, patient.texts()
    assert asked.kind == "confirm" and asked.expects == "choice"
    assert patient.conv.proposed is not None and patient.conv.state == qid
    assert patient.last.answered == []


# -- a reading offered for confirmation ---------------------------------------------------


def test_a_hedged_yes_is_offered_as_one_tap(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    offered(patient, "diabetes_diagnosed")
    assert len(patient.replies) == 1 and patient.conv.retries == 0  # only the offer
    asked = patient.asked
    assert asked is not None
    assert asked.text == "Do you mean: Yes?"
    assert [c.id for c in asked.choices] == ["yes", "no", "unknown"]
    assert [c.label for c in asked.choices] == ["Yes", "No", "I don't know"]


def test_confirming_counts_as_the_answer_marked_confirmed(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    patient.tap("yes")
    assert patient.last.answered == [
        ("diabetes_diagnosed", Answer("yes", raw=HEDGED_YES, confirmed=True))
    ]
    assert patient.conv.state == "age" and patient.conv.proposed is None
    assert "How old are you?" in patient.texts()


def test_no_asks_the_question_again_and_keeps_nothing(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    patient.tap("no")
    assert patient.last.answered == []
    assert patient.conv.proposed is None and patient.conv.state == "diabetes_diagnosed"
    assert patient.replies[0].text == "OK, please answer this one again."
    asked = patient.asked
    assert asked is not None and asked.step == "diabetes_diagnosed"


def test_i_dont_know_at_the_check_is_the_answer_unknown(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    patient.tap("unknown")
    assert [(f, a.value) for f, a in patient.last.answered] == [("diabetes_diagnosed", "unknown")]


def test_typing_a_new_answer_instead_is_read_as_a_new_answer(engine: Engine) -> None:
    patient = at(engine, "diabetes_type")
    patient.say(TYPO_TYPE_2)
    offered(patient, "diabetes_type")
    assert patient.asked is not None and patient.asked.text == "Do you mean: Type 2?"
    patient.say("type 1")
    assert patient.last.answered == [("diabetes_type", Answer("type1", raw="type 1"))]


def test_no_typed_at_the_check_asks_the_question_again(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    patient.say("no")  # "no, I don't mean yes": the answer itself is asked again
    assert patient.last.answered == [] and patient.conv.proposed is None
    assert patient.replies[0].text == "OK, please answer this one again."


def test_typing_yes_confirms(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    patient.say("yes")
    ((fact, answer),) = patient.last.answered
    assert fact == "diabetes_diagnosed" and answer.value == "yes" and answer.confirmed


def test_a_yes_that_could_mean_either_answer_asks_for_a_tap(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_NO)
    offered(patient, "diabetes_diagnosed")
    assert patient.asked is not None and patient.asked.text == "Do you mean: No?"
    patient.say("yes")  # "yes, I mean no" or "the answer is yes"?
    offered(patient, "diabetes_diagnosed")
    assert patient.replies[0].text == "Please tap one of the answers below."


def test_no_to_a_proposed_no_asks_for_a_tap(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_NO)
    patient.say("no")  # "no, I don't mean no" or "the answer is no"?
    offered(patient, "diabetes_diagnosed")
    assert patient.replies[0].text == "Please tap one of the answers below."


def test_i_dont_know_typed_at_the_check_is_the_answer_unknown(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_NO)
    patient.say("I don't know")
    assert [(f, a.value) for f, a in patient.last.answered] == [("diabetes_diagnosed", "unknown")]


def test_tapping_the_questions_own_button_instead_is_the_answer(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    question = patient.asked
    patient.say(HEDGED_YES)
    assert question is not None
    patient.send(Event.tap(question.step, "no"))
    assert patient.last.answered == [("diabetes_diagnosed", Answer("no"))]
    assert patient.conv.proposed is None


def test_a_check_button_without_a_reading_is_stale(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.send(Event.tap("diabetes_diagnosed" + CHECK_SUFFIX, "yes"))
    assert patient.last.answered == []
    assert "earlier message" in patient.replies[0].text


def test_commands_and_stickers_show_the_reading_again(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    patient.send(Event.cmd("help"))
    offered(patient, "diabetes_diagnosed")
    patient.send(Event.other("media"))
    offered(patient, "diabetes_diagnosed")


def test_a_measurement_is_offered_with_its_value_and_unit(engine: Engine) -> None:
    patient = at(engine, "age")
    patient.say(HEDGED_AGE)
    offered(patient, "age")
    assert len(patient.replies) == 1 and patient.conv.retries == 0  # only the offer
    asked = patient.asked
    assert asked is not None and asked.text == "Do you mean: 45 years?"
    assert [c.id for c in asked.choices] == ["yes", "no"]  # age has no "I don't know"
    patient.tap("yes")
    assert patient.last.answered == [
        ("age", Answer("45", raw=HEDGED_AGE, unit="years", confirmed=True))
    ]


def test_a_measurement_in_another_unit_shows_both(engine: Engine) -> None:
    patient = at(engine, "weight", "zh-Hans")
    patient.say("130斤吧")
    offered(patient, "weight")
    assert patient.asked is not None and patient.asked.text == "您是说“65 公斤（130 斤）”吗？"


def test_a_new_number_typed_at_the_check_is_the_answer(engine: Engine) -> None:
    patient = at(engine, "age")
    patient.say(HEDGED_AGE)
    patient.say("46")
    assert patient.last.answered == [("age", Answer("46", raw="46", unit="years"))]


def test_no_to_a_measurement_asks_again(engine: Engine) -> None:
    patient = at(engine, "age")
    patient.say(HEDGED_AGE)
    patient.say("no")
    assert patient.last.answered == [] and patient.conv.proposed is None
    assert patient.asked is not None and patient.asked.step == "age"


def test_back_drops_the_reading(engine: Engine) -> None:
    patient = at(engine, "age")
    patient.say(HEDGED_AGE)
    patient.send(Event.cmd("back"))
    assert patient.conv.proposed is None and patient.conv.state == "diabetes_diagnosed"


def test_the_reading_waits_in_the_record(engine: Engine) -> None:
    patient = at(engine, "diabetes_diagnosed")
    patient.say(HEDGED_YES)
    data = json.loads(json.dumps(patient.conv.to_json()))
    restored = Conversation.from_json(data)
    assert restored.proposed == patient.conv.proposed
    result = engine.handle(restored, Event.tap("diabetes_diagnosed" + CHECK_SUFFIX, "yes"))
    assert result.answered[0][1].confirmed
    assert Conversation.from_json(restored.to_json()).answers["diabetes_diagnosed"].confirmed


@pytest.mark.parametrize(
    ("lang", "typed", "shown"),
    [
        ("zh-Hans", "好像有", "您是说“是”吗？"),
        ("ru", "вроде нет", "Вы имеете в виду: Нет?"),
    ],
)
def test_the_reading_is_offered_in_the_patients_language(
    engine: Engine, lang: str, typed: str, shown: str
) -> None:
    patient = at(engine, "diabetes_diagnosed", lang)
    patient.say(typed)
    offered(patient, "diabetes_diagnosed")
    assert patient.asked is not None and patient.asked.text == shown


# -- what went wrong ----------------------------------------------------------------------


def test_an_unknown_unit_is_named(engine: Engine) -> None:
    patient = at(engine, "c_peptide_fasting")
    patient.say("0.3 nanomol")
    assert patient.last.answered == []
    assert patient.replies[0].kind == "error"
    assert 'I did not recognise the unit "nanomol"' in patient.replies[0].text


@pytest.mark.parametrize(
    ("qid", "typed", "said"),
    [
        ("diabetes_type", "type 1 and 2", "Please choose only one answer."),
        ("hiv", "yes and no", "Your answer seems to say two different things."),
        ("sex", "dunno", "This question needs one of the answers below."),
        ("hiv", "blah blah", "Sorry, I did not understand."),
    ],
)
def test_an_unclear_choice_says_what_went_wrong(
    engine: Engine, qid: str, typed: str, said: str
) -> None:
    patient = at(engine, qid)
    patient.say(typed)
    assert patient.last.answered == [] and patient.conv.proposed is None
    assert patient.replies[0].kind == "error" and patient.replies[0].text.startswith(said)
    assert patient.asked is not None and patient.asked.step == qid


def test_a_bare_weight_still_asks_for_its_unit(engine: Engine) -> None:
    patient = at(engine, "weight")
    patient.say("130")
    asked = patient.asked
    assert asked is not None and asked.step == "weight#unit"
    patient.tap("lb")
    assert patient.last.answered[0][1].unit == "lb"


def test_an_implausible_value_is_still_questioned(engine: Engine) -> None:
    patient = at(engine, "age")
    patient.say("150")
    assert "too high or too low" in patient.replies[0].text


# -- bounds and assumed units, end to end -------------------------------------------------


@pytest.mark.parametrize(
    ("fasting", "outcome", "unknown"),
    [
        ("<0.1 nmol/L", "likely_eligible", []),
        ("<0.3 nmol/L", "needs_review", ["islet_failure"]),
        ("<0.01", "likely_eligible", []),
    ],
)
def test_fasting_c_peptide_written_as_a_bound(
    engine: Engine, fasting: str, outcome: str, unknown: list[str]
) -> None:
    result = outcome_of(engine, with_answers(c_peptide_fasting=fasting))
    assert result["outcome"] == outcome and result["unknown"] == unknown


def test_a_bound_is_stored_with_its_sign_and_shown_back_on_an_early_stop(engine: Engine) -> None:
    patient = at(engine, "hba1c")
    patient.say("<6.5 %")
    assert patient.conv.answers["hba1c"].value == "<6.5"
    assert patient.conv.state == "confirm:hba1c"
    assert "You answered: <6.5 %" in patient.texts()


def test_an_assumed_unit_is_shown_on_an_early_stop(engine: Engine) -> None:
    patient = at(engine, "hemoglobin")
    patient.say("65")
    assert patient.conv.state == "confirm:hemoglobin"
    assert "You answered: 65, which I read as 65 g/L = 6.5 g/dL" in patient.texts()


def test_a_typed_unit_is_not_explained(engine: Engine) -> None:
    patient = at(engine, "hemoglobin")
    patient.say("65 g/L")
    assert "You answered: 65 g/L\n" in patient.texts()


# -- replay --------------------------------------------------------------------------------


def test_replay_confirms_a_reading_and_lists_it(engine: Engine) -> None:
    profile = {"id": "c1", "language": "en", "answers": with_answers(diabetes_diagnosed=HEDGED_YES)}
    line = run_profile(engine, profile)
    assert line == {
        "id": "c1",
        "outcome": "likely_eligible",
        "failed": [],
        "unknown": [],
        "confirmed": ["diabetes_diagnosed"],
    }


def test_replay_omits_confirmed_when_nothing_was(engine: Engine) -> None:
    line = run_profile(engine, {"id": "c2", "language": "en", "answers": with_answers()})
    assert "confirmed" not in line and line["outcome"] == "likely_eligible"
