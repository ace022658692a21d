"""What the bot says about data: generated from the settings and the card's field list."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime

import pytest

from bot.channels.telegram.app import TRANSIT, telegram_policy
from bot.channels.wechat.server import wechat_policy
from bot.config import Settings
from bot.engine.engine import Engine, load_engine
from bot.engine.events import Event
from bot.engine.notices import FIELD_LABELS
from bot.engine.policy import SHARED_FIELDS, DataPolicy
from bot.i18n import LANGUAGES
from bot.storage.store import AnswerView, ContactView, OutcomeView, ReferralDetails
from bot.team.cards import CARD_FIELDS, TeamTexts
from tests.conftest import ELIGIBLE_EN, Patient

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
# A value per shared field, and how the team's English card shows it.
CONTACT = ContactView(
    name="Zed Marker",
    phone="+8613800138000",
    email="zed@example.org",
    username="zedname",
    best_time="evening",
    call_lang="ru",
)
ON_CARD = {
    "name": "Name: Zed Marker",
    "phone": "Phone: +8613800138000",
    "email": "E-mail: zed@example.org",
    "username": "Telegram: @zedname",
    "best_time": "Best time to call: Evening",
    "call_lang": "Language for the call: Русский",
    "lang": "Language: Español",
    "source": "flyer-42",
    "outcome": "Outcome: ",
    "answers": "(forty-five, I think)",
}


def settings(**values: object) -> Settings:
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


def engine_with(**policy: object) -> Engine:
    return load_engine(policy=replace(DataPolicy(), **policy))  # type: ignore[arg-type]


def details() -> ReferralDetails:
    return ReferralDetails(
        ref_code="CZ-AAAA-BBBB",
        status="new",
        outcome="likely_eligible",
        attempts=0,
        created_at=NOW,
        acknowledged_at=None,
        reminded_at=None,
        card_message_id=None,
        user_hash="h",
        chat_id=None,
        lang="es",
        source="flyer-42",
        flow_id="nct06751199",
        flow_version="1",
        decision=OutcomeView("likely_eligible", [], [], "nct06751199", "1", "p"),
        answers={"age": AnswerView("age", "45", "forty-five, I think", "years", NOW)},
        contact=CONTACT,
    )


def share_text(engine: Engine, lang: str = "en") -> str:
    patient = Patient(engine, lang)
    patient.run(ELIGIBLE_EN)
    assert patient.conv.state == "share"
    return patient.replies[-1].text


def test_the_card_carries_exactly_the_shared_fields() -> None:
    card = TeamTexts("en").card(details()).plain
    assert set(ON_CARD) == set(CARD_FIELDS) == set(SHARED_FIELDS)
    missing = [name for name, shown in ON_CARD.items() if shown not in card]
    assert missing == [], card
    contact_on_card = {
        f.name for f in fields(ContactView) if str(getattr(CONTACT, f.name)) in card
    } | ({"call_lang"} if "Русский" in card else set())
    assert contact_on_card <= set(CARD_FIELDS)


def test_the_sharing_consent_names_every_field_of_the_card() -> None:
    assert set(FIELD_LABELS) == set(CARD_FIELDS)
    text = share_text(load_engine(policy=telegram_policy(settings())))
    assert [name for name in CARD_FIELDS if FIELD_LABELS[name] not in text] == []
    assert "name and phone number, so they can call you? We send nothing else" not in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sharing_consent_lists_every_field_in_every_language(lang: str) -> None:
    engine = engine_with(email_copy=True, shared=SHARED_FIELDS)
    text = share_text(engine, lang)
    t = engine.render.catalogs.get(lang)
    assert all(t.gettext(FIELD_LABELS[name]) in text for name in CARD_FIELDS)
    assert t.gettext("by e-mail to the study team") in text


def test_the_sharing_consent_names_every_place_the_details_go() -> None:
    both = share_text(engine_with(email_copy=True))
    assert "in the study team's group chat and by e-mail to the study team" in both
    chat_only = share_text(engine_with(email_copy=False))
    assert "group chat" in chat_only and "e-mail to the study team" not in chat_only


def test_both_consents_say_where_telegrams_servers_are() -> None:
    engine = load_engine(policy=telegram_policy(settings()))
    patient = Patient(engine)
    assert patient.conv.state == "diabetes_diagnosed"
    consent = engine.render.consent_question(patient.conv, "consent").text
    assert TRANSIT in consent and consent.endswith("Do you agree?")
    assert TRANSIT in share_text(engine)
    zh = Patient(engine, "zh-Hans")
    assert "中国大陆境外" in engine.render.consent_question(zh.conv, "consent").text


def test_without_a_chat_app_no_servers_are_named(engine: Engine) -> None:
    patient = Patient(engine)
    assert "Telegram" not in engine.render.consent_question(patient.conv, "consent").text


def test_the_policy_comes_from_the_settings() -> None:
    policy = DataPolicy.from_settings(settings(retention_days=10))
    assert (policy.abandoned_days, policy.finished_days, policy.referral_days) == (10, 10, None)
    assert not policy.team_chat and not policy.email_copy
    policy = DataPolicy.from_settings(
        settings(
            retention_days=10,
            finished_retention_days=60,
            referral_retention_days=400,
            study_team_chat_id=-100,
            handoff_email="team@example.org",
        )
    )
    assert (policy.finished_days, policy.referral_days) == (60, 400)
    assert policy.team_chat and policy.email_copy


def test_privacy_states_what_is_kept_and_for_how_long() -> None:
    engine = load_engine(
        policy=telegram_policy(
            settings(retention_days=30, finished_retention_days=90, study_team_chat_id=-1)
        )
    )
    patient = Patient(engine)
    text = engine.render.privacy(patient.conv).text
    for said in (
        "your answers and the words you typed",
        "the number of this chat",
        "news about other studies",
        "user name",
        "e-mail address",
        "If you stop before the end: we delete it after 30 days.",
        "If you finish and nothing goes to the study team: we delete it after 90 days.",
        "while the study needs them. You can erase them before that.",
        "Shanghai Changzheng Hospital",
        TRANSIT,
        "/delete",
    ):
        assert said in text, said
    assert "A copy of your details goes to the study team by e-mail." not in text


def test_privacy_names_the_email_copy_and_a_referral_limit_when_set() -> None:
    engine = engine_with(email_copy=True, referral_days=365)
    text = engine.render.privacy(Patient(engine).conv).text
    assert "A copy of your details goes to the study team by e-mail." in text
    assert "If your details go to the study team: we delete them after 365 days." in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_privacy_states_the_periods_in_every_language(lang: str) -> None:
    engine = engine_with(abandoned_days=30, finished_days=90, referral_days=365)
    text = engine.render.privacy(Patient(engine, lang).conv).text
    t = engine.render.catalogs.get(lang)
    assert t.number(90) in text and t.number(365) in text and "/delete" in text


def test_delete_says_what_cannot_be_recalled() -> None:
    engine = engine_with(email_copy=True)
    patient = Patient(engine)
    patient.send(Event.cmd("delete"))
    asked = patient.replies[-1].text
    assert "remove them from their group chat" in asked
    assert "an e-mail already sent to the study team" in asked
    assert "a list the study team already downloaded" in asked
    patient.tap("erase")
    done = patient.replies[-1].text
    assert "everything about you is erased" not in done
    assert "We cannot take back an e-mail already sent to the study team or a list" in done


def test_delete_without_a_team_chat_or_email_promises_nothing_more() -> None:
    engine = engine_with(email_copy=False, team_chat=False)
    text = engine.render.delete_question(Patient(engine).conv, "delete").text
    assert "cannot take back" not in text and "group chat" not in text


CHANNEL_POLICIES = {
    "telegram": telegram_policy(settings()),
    "wechat": wechat_policy(settings()),
    "terminal": DataPolicy(),
}


@pytest.mark.parametrize("channel", list(CHANNEL_POLICIES))
def test_the_sharing_consent_names_exactly_what_the_channels_card_carries(channel: str) -> None:
    policy = CHANNEL_POLICIES[channel]
    engine = load_engine(policy=policy)
    listed = [line.removeprefix("• ") for line in share_text(engine).splitlines()]
    named = [name for name, label in FIELD_LABELS.items() if label in listed]
    assert named == list(policy.shared)
    assert ("username" in named) == (channel == "telegram")
    privacy = engine.render.privacy(Patient(engine).conv).text
    assert (FIELD_LABELS["username"] in privacy) == (channel == "telegram")
    assert FIELD_LABELS["phone"] in privacy and FIELD_LABELS["name"] in privacy


@pytest.mark.parametrize("typed", [False, True])
def test_cannot_read_names_what_the_channel_offers(typed: bool) -> None:
    engine = load_engine(typed=typed)
    text = engine.render.cannot_read(Patient(engine).conv, edited=False).text
    assert "typed text" in text
    assert ("buttons" in text) != typed
    assert ("the numbers of the answers" in text) == typed
