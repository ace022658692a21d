"""The safety layer: urgent advice first, the step again, advice again in the ending."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.engine.engine import Engine
from bot.engine.errors import FlowError
from bot.engine.events import Event, Reply, Result
from bot.engine.flow import flow_path, parse_flow
from bot.engine.record import Answer
from bot.engine.safety import load_signs
from bot.i18n import LANGUAGES
from tests.conftest import ELIGIBLE_EN, Patient, with_answers

TYPED_NOW = {
    "en": "I am throwing up and breathing fast right now",
    "zh-Hans": "我现在一直吐，喘不上气",
    "zh-Hant": "我現在一直吐，喘不過氣",
    "es": "Estoy vomitando y respiro rápido",
    "ru": "Меня рвёт, и я часто дышу",
    "ar": "أتقيأ الآن وأتنفس بسرعة",
}
HYPO_NOW = {
    "en": "I had a bad hypo this morning and passed out",
    "zh-Hans": "我今天早上低血糖，晕倒了",
    "zh-Hant": "我今天早上低血糖，暈倒了",
    "es": "Esta mañana tuve una hipoglucemia y me desmayé",
    "ru": "Сегодня утром был низкий сахар, и я потерял сознание",
    "ar": "هذا الصباح حصل عندي هبوط السكر وأغمي علي",
}
LOCAL = {
    "en": "local number for an ambulance",
    "zh-Hans": "当地的急救电话",
    "zh-Hant": "當地的急救電話",
    "es": "número local de ambulancias",
    "ru": "местному номеру скорой помощи",
    "ar": "رقم الإسعاف المحلي",
}
NUMBERS = ("120", "999", "119")


def at_dka(engine: Engine, lang: str = "en") -> Patient:
    patient = Patient(engine, lang)
    patient.run(ELIGIBLE_EN, until="dka_uncontrolled")
    assert patient.conv.state == "dka_uncontrolled"
    return patient


@pytest.mark.parametrize("lang", LANGUAGES)
def test_symptoms_typed_at_the_dka_question_get_advice_at_once(engine: Engine, lang: str) -> None:
    patient = at_dka(engine, lang)
    answers_before = dict(patient.conv.answers)
    patient.say(TYPED_NOW[lang])
    first, *rest = patient.replies
    assert first.kind == "urgent"
    assert all(n in first.text for n in NUMBERS) and LOCAL[lang] in first.text
    assert [r.kind for r in rest] == ["question"]  # asked again, no "did not understand"
    assert patient.asked is not None and patient.asked.step == "dka_uncontrolled"
    assert patient.conv.answers == answers_before and patient.last.answered == []
    assert patient.conv.retries == 0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_severe_hypo_now_is_recognised_at_any_question(engine: Engine, lang: str) -> None:
    patient = Patient(engine, lang)
    patient.run(ELIGIBLE_EN, until="hba1c")
    patient.say(HYPO_NOW[lang])
    assert [r.kind for r in patient.replies] == ["urgent", "question"]
    assert patient.asked is not None and patient.asked.step == "hba1c"
    assert "hba1c" not in patient.conv.answers


def test_urgent_words_keep_a_half_given_answer(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="weight")
    patient.say("130")
    half_given = dict(patient.conv.pending or {})
    assert half_given["raw"] == "130"
    patient.say(HYPO_NOW["en"])
    assert patient.replies[0].kind == "urgent"
    assert patient.conv.pending == half_given
    assert patient.asked is not None and patient.asked.step == "weight#unit"


def test_urgent_words_that_are_also_an_answer_count_as_the_answer(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="severe_hypoglycemia_12m")
    said = "Yes: " + HYPO_NOW["en"]
    seen = (engine.flow.safety.recognise(said), copy.deepcopy(patient.conv))
    patient.conv.answers["severe_hypoglycemia_12m"] = Answer("yes", raw=said)
    taken = Result(replies=[Reply("next question", kind="question", step="next")])
    taken.answered.append(("severe_hypoglycemia_12m", Answer("yes", raw=said)))
    engine.safety.after(patient.conv, taken, seen, engine._reprompt)
    assert [r.kind for r in taken.replies] == ["urgent", "question"]
    assert taken.replies[1].text == "next question"
    assert patient.conv.answers["severe_hypoglycemia_12m"].value == "yes"


def test_the_same_situation_is_shown_once_per_event(engine: Engine) -> None:
    patient = at_dka(engine)
    patient.say(TYPED_NOW["en"] + ". I am vomiting, I can't breathe")
    assert [r.kind for r in patient.replies] == ["urgent", "question"]


def test_dont_know_to_dka_gives_the_symptoms_and_advice(engine: Engine) -> None:
    patient = at_dka(engine)
    patient.tap("unknown")
    first = patient.replies[0]
    assert first.kind == "urgent"
    assert "throwing up" in first.text and "breathing fast" in first.text
    assert patient.conv.answers["dka_uncontrolled"].value == "unknown"
    assert patient.asked is not None and patient.asked.step == "hba1c"


def test_urgent_advice_never_says_come_back_later(engine: Engine) -> None:
    for lang in LANGUAGES:
        patient = at_dka(engine, lang)
        patient.tap("yes")
        assert patient.replies[0].kind == "urgent"
        assert "later" not in patient.replies[0].text
        assert "120" in patient.replies[0].text and LOCAL[lang] in patient.replies[0].text


def test_the_ending_repeats_the_advice_before_offering_other_studies(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(with_answers(dka_uncontrolled="yes"))
    assert patient.conv.state == "confirm:dka_uncontrolled"
    patient.tap("confirm")
    kinds = [r.kind for r in patient.replies]
    assert kinds[:2] == ["ending", "urgent"], kinds
    assert "remember" in patient.replies[1].text and "120" in patient.replies[1].text
    assert "later" not in patient.texts()


def test_the_ending_repeats_typed_urgent_advice_before_the_handoff(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="hba1c")
    patient.say(HYPO_NOW["en"])
    patient.run(ELIGIBLE_EN)
    kinds = [r.kind for r in patient.replies]
    assert kinds.index("urgent") == kinds.index("ending") + 1, kinds
    assert "pass out" in patient.replies[kinds.index("urgent")].text


def test_a_restart_forgets_the_urgent_situations(engine: Engine) -> None:
    patient = at_dka(engine)
    patient.say(TYPED_NOW["en"])
    assert patient.conv.urgent == ["dka_signs"]
    patient.send(Event.cmd("restart"))
    assert patient.conv.urgent == []


def test_plain_answers_raise_nothing(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN)
    assert patient.conv.urgent == []


def test_urgent_situations_survive_the_record(engine: Engine) -> None:
    from bot.engine.record import Conversation

    patient = at_dka(engine)
    patient.say(TYPED_NOW["en"])
    again = Conversation.from_json(patient.conv.to_json())
    assert again.urgent == ["dka_signs"]


def test_every_sign_set_covers_all_six_languages() -> None:
    assert set(load_signs()) == {"dka_signs", "severe_hypo_now"}


def _flow_with(safety: object) -> dict[str, object]:
    data = yaml.safe_load(flow_path("nct06751199").read_text(encoding="utf-8"))
    data["safety"] = safety
    return dict(data)


@pytest.mark.parametrize(
    ("safety", "problem"),
    [
        ({"situations": [{"id": "x", "advice": "Go.", "signs": "nope"}]}, "unknown sign set"),
        (
            {"situations": [{"id": "x", "advice": "Go.", "answers": {"sex": ["maybe"]}}]},
            "option ids",
        ),
        ({"situations": [{"id": "x", "advice": "Go.", "signs": "dka_signs"}]}, "emergency"),
        ({"situations": [{"id": "x", "advice": "Go."}], "emergency": []}, "'answers' or 'signs'"),
    ],
)
def test_a_broken_safety_section_is_refused_on_load(safety: object, problem: str) -> None:
    with pytest.raises(FlowError, match=problem):
        parse_flow(_flow_with(safety), "x.yaml")


def test_sign_files_must_name_all_languages(tmp_path: Path) -> None:
    path = tmp_path / "signs.yaml"
    path.write_text("x:\n  en: [[[vomit]]]\n", encoding="utf-8")
    with pytest.raises(FlowError, match="needs exactly"):
        load_signs(path)
