"""Turns longer than a WeChat text (2048 bytes): split cleanly, nothing lost, with or without
customer-service messages; the fake platform refuses over-long texts as WeChat does."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.channels.wechat.api import WeChatAPI, WeChatAPIError
from bot.channels.wechat.server import wechat_policy
from bot.channels.wechat.text import MAX_BYTES
from bot.config import Settings
from bot.engine.engine import load_engine
from bot.engine.events import Event
from tests.fakewechat import FakeWeChat
from tests.fakewechat.platform import UNAVAILABLE
from tests.wechat.conftest import WeChatBot
from tests.wechat.person import Person


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the storage paths are the same as the screenings' (both backends)


@pytest.fixture
def mode() -> str:
    return "plain"


def _faq_lines(settings: Settings, lang: str) -> list[str]:
    """Return the lines of the /faq answer (over 2048 bytes in Russian)."""
    engine = load_engine(typed=True, policy=wechat_policy(settings))
    conv = engine.new(lang)
    engine.handle(conv, Event.start(lang))
    text = engine.handle(conv, Event.cmd("faq")).replies[0].text
    assert len(text.encode()) > MAX_BYTES  # the case this file is about
    return [line for line in text.splitlines() if line.strip()]


def _all_there(lines: list[str], received: list[str]) -> None:
    seen = "\n".join(received)
    missing = [line for line in lines if line not in seen]
    assert not missing, missing


@pytest.mark.parametrize("customer_service", [True])
async def test_the_rest_of_a_long_turn_follows_as_customer_service_messages(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings
) -> None:
    person = Person(fake, "oLONG_cs_0001", "ru")
    await fake.subscribe(person.openid, "flyer__ru")
    start = len(fake.sent)
    delivery = await person.say("/faq")
    sent = await fake.wait_until(lambda s: "Ответьте 1 = " in s[-1].text)
    answer = sent[start:]
    assert delivery.passive == answer[0].text
    assert [s.how for s in answer] == ["passive"] + ["custom"] * (len(answer) - 1)
    assert len(answer) >= 2 and all(len(s.text.encode()) <= MAX_BYTES for s in answer)
    _all_there(_faq_lines(settings, "ru"), [s.text for s in answer])
    assert fake.refused == [] and fake.tokens_issued == 1  # the access token is cached


@pytest.mark.parametrize("customer_service", [False])
async def test_without_customer_service_the_person_types_0_for_the_rest(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings
) -> None:
    person = Person(fake, "oLONG_more_0002", "ru")
    await fake.subscribe(person.openid, "flyer__ru")
    await person.say("/faq")
    received = [person.last()]
    while "ответьте 0" in person.last():
        await person.say("0")
        received.append(person.last())
    assert len(received) >= 2 and all(len(t.encode()) <= MAX_BYTES for t in received)
    _all_there(_faq_lines(settings, "ru"), received)
    assert "Ответьте 1 = " in received[-1]  # the question comes last, as always
    await person.pick("Да, я даю согласие")  # and it can be answered
    assert "Ответьте 1 = " in person.last() and fake.refused == []


@pytest.mark.parametrize("customer_service", [False])
async def test_another_answer_drops_the_rest_and_0_is_then_an_answer(
    wxbot: WeChatBot, fake: FakeWeChat
) -> None:
    person = Person(fake, "oLONG_drop_0003", "ru")
    await fake.subscribe(person.openid, "flyer__ru")
    await person.say("/faq")
    assert "ответьте 0" in person.last()
    await person.say("/help")  # something else: the rest of the FAQ is not kept
    await person.say("0")
    assert "ответьте 0" not in person.last() and "Ответьте 1 = " in person.last()


async def test_the_platform_refuses_texts_over_2048_bytes(fake: FakeWeChat) -> None:
    api = WeChatAPI(fake.base_url, fake.app_id, fake.app_secret)
    fake.allowance["oLONG_limit_0004"] = 5
    try:
        await api.send_text("oLONG_limit_0004", "字" * 682)  # 2046 bytes: shown
        with pytest.raises(WeChatAPIError) as refused:
            await api.send_text("oLONG_limit_0004", "字" * 683)  # 2049 bytes
        assert refused.value.errcode == 45002
    finally:
        await api.close()
    fields = fake.message("oLONG_limit_0004", "text", Content="hi")
    root = ET.Element("xml")
    for name, value in {
        "ToUserName": fields["FromUserName"],
        "FromUserName": fields["ToUserName"],
        "MsgType": "text",
        "Content": "字" * 683,
    }.items():
        ET.SubElement(root, name).text = value
    assert fake._read_reply(fields, ET.tostring(root, encoding="unicode")) is None
    assert fake.texts("oLONG_limit_0004")[-1] == UNAVAILABLE  # a passive reply: not shown
