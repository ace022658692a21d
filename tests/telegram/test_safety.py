"""Acceptance over the fake Bot API: symptoms typed at the DKA question get advice at once."""

from __future__ import annotations

import pytest

from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.telegram.conftest import Person, RunningBot
from tests.telegram.test_screening import screen


@pytest.mark.parametrize(
    ("user_id", "lang", "typed", "question"),
    [
        (1301, "en", "I am throwing up and breathing fast right now", "ketoacidosis"),
        (1302, "zh-CN", "我现在一直吐，喘不上气", "酮症酸中毒"),
    ],
)
async def test_symptoms_at_the_dka_question_get_urgent_advice_at_once(
    bot: RunningBot, fake: FakeBotAPI, user_id: int, lang: str, typed: str, question: str
) -> None:
    person = Person(fake, user_id, lang)
    consent = await person.command("/start")
    assert "Telegram" in consent[-1].text  # the health-data consent names Telegram's servers
    await person.tap("agree")
    await screen(person, ELIGIBLE_EN, until="dka_uncontrolled")
    assert question in fake.last(person.user_id).text
    replies = await person.say(typed)
    new = [r for r in replies if not r.edited]
    assert "120" in new[0].text and "999" in new[0].text and "119" in new[0].text
    assert question in new[-1].text  # the same question again, nothing lost
    assert "understand" not in person.transcript() and "明白" not in new[0].text
