"""Whole screenings over the fake WeChat platform, typed by numbers and by words."""

from __future__ import annotations

import re

import pytest

from bot.config import Settings
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakewechat import FakeWeChat
from tests.wechat.conftest import WeChatBot
from tests.wechat.person import Person

ZH_CONTACT = ("是，我同意", "13800138000", "李雷")


@pytest.fixture
def customer_service() -> bool:
    return False  # the whole turn in one passive reply


async def _handoff(person: Person, yes: str, name: str, skip: str, time: str, call: str) -> str:
    """Share the details, type the phone number and the name; return the final text."""
    await person.pick(yes)
    assert "+" in person.last(), "the phone step says how to type a number abroad"
    await person.say("138 0013 8000")
    await person.say(name)
    await person.pick(skip)
    await person.pick(time)
    await person.pick(call)
    return person.last()


async def test_zh_hans_screening_by_numbers_reaches_the_study_team(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings
) -> None:
    person = Person(fake, "oZH_numbers_0001", "zh-Hans")
    await fake.subscribe(person.openid)
    assert "您同意吗" in person.last() and "回复 1 = 是，我同意" in person.last()
    await person.pick("是，我同意")
    assert "回复 1 = 是" in person.last()
    await person.screen(ELIGIBLE_EN)
    assert "微信" in "\n".join(fake.texts(person.openid))  # the transit sentence
    final = await _handoff(person, "是，发送我的资料", "李雷", "跳过", "上午", "普通话")
    assert "CZ-" in final, final
    code = re.search(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}", final)
    assert code is not None, final
    store = await Store.open(settings)
    try:
        details = await store.referral(code.group())
        assert details is not None and details.contact is not None
        assert details.contact.phone == "+8613800138000" and details.contact.name == "李雷"
        assert sum((await store.outbox_counts()).values()) >= 1  # the card is queued
    finally:
        await store.close()
    assert not any(t.endswith("…") for t in fake.texts(person.openid)), "a reply was cut"


async def test_english_screening_by_typed_words(wxbot: WeChatBot, fake: FakeWeChat) -> None:
    person = Person(fake, "oEN_words_0002", "en")
    await fake.subscribe(person.openid, "flyer-sh01__en")
    assert "Do you agree?" in person.last() and "Reply 1 = Yes, I agree" in person.last()
    await person.say("1")
    await person.screen(ELIGIBLE_EN, words=True)
    final = await _handoff(person, "Yes, send my details", "Li Lei", "Skip", "Morning", "普通话")
    assert "reference code is CZ-" in final, final
