"""The patient's side of the handoff: consent to share, contact details, reference code."""

from __future__ import annotations

import pytest

from bot.channels.telegram.app import telegram_policy
from bot.config import Settings
from bot.engine.contact import clean_email, clean_name, normalise_phone
from bot.engine.engine import Engine, load_engine
from bot.engine.events import Event
from tests.conftest import Patient, with_answers


def at_share(engine: Engine, **changes: str) -> Patient:
    patient = Patient(engine)
    patient.run(with_answers(**changes))
    assert patient.conv.state == "share"
    return patient


def test_eligible_patient_is_asked_separately_to_share_contact() -> None:
    engine = load_engine(policy=telegram_policy(Settings(_env_file=None)))  # type: ignore[call-arg]
    patient = at_share(engine)
    ending, share = patient.replies
    assert ending.kind == "ending" and share.step == "share"
    assert "outside mainland China" in share.text


def test_needs_review_is_also_offered_the_handoff(engine: Engine) -> None:
    patient = at_share(engine, hba1c="unknown")
    assert patient.conv.outcome is not None and patient.conv.outcome["outcome"] == "needs_review"


def test_full_handoff_with_shared_phone_and_profile_name(engine: Engine) -> None:
    patient = at_share(engine)
    result = patient.tap("yes")
    assert result.consents[0][:2] == ("share_contact", True)
    assert patient.asked is not None and patient.asked.expects == "phone"
    result = patient.send(Event("contact", text="+86 138 0013 8000", profile_name="李雷"))
    assert result.replies[0].clears_input and "+8613800138000" in result.replies[0].text
    assert patient.asked is not None and "李雷" in patient.asked.text
    patient.send(Event("tap", step="name", option="yes", profile_name="李雷"))
    patient.tap("skip")
    patient.tap("morning")
    result = patient.tap("cmn")
    assert patient.conv.state == "done"
    assert result.contact == {
        "phone": "+8613800138000",
        "name": "李雷",
        "best_time": "morning",
        "call_lang": "cmn",
    }
    assert result.referral is not None and result.referral.outcome == "likely_eligible"
    code = result.referral.ref
    assert code.startswith("CZ-") and code in result.replies[-1].text
    assert "2 working days" in result.replies[-1].text
    assert patient.conv.contact is None  # contact details leave the record with the referral
    patient.send(Event.cmd("back"))
    assert "already with the study team" in patient.replies[0].text


def test_typed_phone_name_and_email(engine: Engine) -> None:
    patient = at_share(engine)
    patient.say("yes")
    patient.say("12345")
    assert patient.replies[0].kind == "error" and patient.conv.state == "phone"
    patient.say("138-0013-8000")
    assert patient.conv.state == "name"
    patient.say("<b>Li</b> & *Lei*")
    assert patient.conv.contact is not None and patient.conv.contact["name"] == "<b>Li</b> & *Lei*"
    patient.say("not-an-email")
    assert patient.replies[0].kind == "error"
    patient.say("li.lei@example.com")
    patient.say("Evening")
    result = patient.say("English")
    assert result.contact is not None and result.contact["email"] == "li.lei@example.com"
    assert result.contact["best_time"] == "evening" and result.contact["call_lang"] == "en"


def test_refusing_to_share_sends_nothing(engine: Engine) -> None:
    patient = at_share(engine)
    result = patient.tap("no")
    assert result.consents[0][:2] == ("share_contact", False)
    assert result.referral is None and patient.conv.state == "done"


def test_back_during_contact_steps_goes_one_step_back(engine: Engine) -> None:
    patient = at_share(engine)
    patient.tap("yes")
    patient.say("13800138000")
    patient.send(Event.cmd("back"))
    assert patient.conv.state == "phone"
    patient.send(Event.cmd("back"))
    assert patient.conv.state == "share"


def test_ineligible_patient_gets_the_alerts_offer_not_the_handoff(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(with_answers(age="80"))
    patient.tap("confirm")
    assert patient.conv.state == "alerts"


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86-138-0013-8000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),
        ("+852 6123 4567", "+85261234567"),
        ("+1 415 555 2671", "+14155552671"),
        ("12345", None),
        ("call me", None),
        ("", None),
        ("+86 138 0013 8000 ext 99999999999999999999999999999999", None),
    ],
)
def test_phone_numbers_in_odd_forms(text: str, phone: str | None) -> None:
    assert normalise_phone(text) == phone


def test_names_and_email_are_checked() -> None:
    assert clean_name("  李   雷 ") == "李 雷"
    assert clean_name("\u200b\u202e") is None
    assert clean_name("12345") is None
    assert clean_name("x" * 81) is None
    assert clean_email("a@b.cn") == "a@b.cn"
    assert clean_email("a@b") is None


def test_a_patient_who_said_no_to_sharing_can_go_back_to_that_question(engine: Engine) -> None:
    patient = at_share(engine)
    patient.tap("no")
    assert "/back" in patient.replies[-1].text and "/restart" not in patient.replies[-1].text
    answers = dict(patient.conv.answers)
    patient.send(Event.cmd("back"))
    assert patient.conv.state == "share"
    assert patient.asked is not None and patient.asked.step == "share"
    assert patient.conv.answers == answers  # nothing asked again, nothing lost
    result = patient.tap("yes")
    assert result.consents[0][:2] == ("share_contact", True)
    assert patient.conv.state == "phone"


def test_the_call_language_offers_spoken_languages_the_team_can_call_in(engine: Engine) -> None:
    from bot.engine.engine import Engine as Built

    patient = at_share(engine)
    offered = engine.render.call_language_question(patient.conv, "call_lang")
    assert [c.label for c in offered.choices] == [
        "普通话",
        "粵語",
        "English",
        "Español",
        "Русский",
        "العربية",
    ]
    assert not {"简体中文", "繁體中文"} & {c.label for c in offered.choices}
    few = Built(engine.flow, call_languages=["cmn", "en"])
    patient = at_share(few)
    patient.tap("yes")
    patient.say("13800138000")
    patient.say("Li Lei")
    patient.tap("skip")
    patient.tap("any")
    assert patient.asked is not None
    assert [c.id for c in patient.asked.choices] == ["cmn", "en"]
    patient.say("Русский")  # not offered: asked again
    assert patient.conv.state == "call_lang"
    result = patient.tap("en")
    assert result.contact is not None and result.contact["call_lang"] == "en"
