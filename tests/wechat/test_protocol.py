"""The Official Account protocol end to end: URL check, signatures, safe mode, retries,
QR scenes, menu clicks, voice, unreadable messages and customer-service messages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.conversations import Conversations
from bot.logs import cap_libraries
from bot.storage.store import Store
from tests.fakewechat import FakeWeChat
from tests.fakewechat.crypto import new_aes_key, signature
from tests.fakewechat.platform import RETRIES
from tests.wechat.conftest import WeChatBot
from tests.wechat.person import Person


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the storage paths are the same as the screenings' (both backends)


@pytest.fixture
def customer_service() -> bool:
    return False  # one passive reply per message, unless a test says otherwise


async def _conversation(settings: Settings, openid: str) -> dict[str, object]:
    store = await Store.open(settings)
    try:
        async with store.turn(f"wx:{openid}") as turn:
            assert turn.record is not None
            return dict(turn.record)
    finally:
        await store.close()


async def test_url_check_echoes_only_when_signed(wxbot: WeChatBot, fake: FakeWeChat) -> None:
    query = {"timestamp": "1700000000", "nonce": "42", "echostr": "4719582743"}
    async with httpx.AsyncClient() as client:
        good = await client.get(
            fake.bot_url, params={**query, "signature": signature(fake.token, "1700000000", "42")}
        )
        bad = await client.get(fake.bot_url, params={**query, "signature": "0" * 40})
    assert (good.status_code, good.text) == (200, "4719582743")
    assert bad.status_code == 403 and "4719582743" not in bad.text


async def test_a_message_signed_with_another_token_is_refused(
    wxbot: WeChatBot, fake: FakeWeChat
) -> None:
    delivery = await fake.post(fake.message("oBAD_sig_0001", "text", Content="1"), token="forged")
    assert delivery.statuses == [403] and delivery.passive is None
    assert fake.texts("oBAD_sig_0001") == []


@pytest.mark.parametrize("mode", ["safe"])
async def test_a_message_encrypted_with_another_key_is_refused(
    wxbot: WeChatBot, fake: FakeWeChat
) -> None:
    fake.aes_key = new_aes_key()  # the platform encrypts with a key the bot does not have
    delivery = await fake.subscribe("oBAD_key_0001")
    assert delivery.statuses == [403] and delivery.passive is None


async def test_qr_scene_sets_source_and_language(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings
) -> None:
    await fake.subscribe("oQR_scene_0001", "poster-sh02__zh-Hant")
    assert "回覆 1 = " in fake.texts("oQR_scene_0001")[-1]  # Traditional Chinese
    record = await _conversation(settings, "oQR_scene_0001")
    assert record["source"] == "poster-sh02" and record["lang"] == "zh-Hant"
    await fake.scan("oQR_scene_0002", "flyer__es")  # a follower scanning: SCAN event
    assert "Responda 1 = " in fake.texts("oQR_scene_0002")[-1]


async def test_a_retried_message_is_handled_once(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = Person(fake, "oRETRY_00001", "zh-Hans")
    await fake.subscribe(person.openid)
    await person.pick("是，我同意")
    handle = Conversations.handle
    calls = timeouts = 0
    gave_up = asyncio.Event()

    async def late_first(self: Conversations, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gave_up.wait()  # the first answer comes after WeChat's third retry
        return await handle(self, *args)

    def timed_out() -> None:
        nonlocal timeouts
        timeouts += 1
        if timeouts == RETRIES:  # the first delivery and two retries got no answer
            gave_up.set()

    monkeypatch.setattr(Conversations, "handle", late_first)
    fake.on_timeout = timed_out
    fields = fake.message(person.openid, "text", Content="1")  # "Yes": diagnosed
    delivery = await fake.post(fields)
    assert delivery.attempts == 1 + RETRIES and delivery.statuses == [200]  # four in all
    assert calls == 1  # every retry waited for the first delivery's answer
    assert delivery.passive is not None and "回复" not in delivery.passive.split("\n")[0]
    assert (await _conversation(settings, person.openid))["state"] == "age"

    again = await fake.post(fields)  # the same message once more: the same reply
    assert again.passive == delivery.passive and calls == 1

    await wxbot.stop()  # a new process remembers no replies: the store knows the message
    await wxbot.start()
    after_restart = await fake.post(fields)
    assert after_restart.statuses == [200] and after_restart.passive is not None
    assert (await _conversation(settings, person.openid))["state"] == "age"


async def test_menu_clicks_are_commands(wxbot: WeChatBot, fake: FakeWeChat) -> None:
    person = Person(fake, "oMENU_00001", "en")
    await fake.subscribe(person.openid, "menu__en")
    await fake.click(person.openid, "privacy")
    assert "WeChat's servers (Tencent). They are in mainland China." in person.last()
    await fake.click(person.openid, "no-such-key")
    assert person.last()  # answered kindly, nothing lost
    await fake.click(person.openid, "restart")
    assert person.last()


async def test_voice_with_recognition_is_read_as_typed_text(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings
) -> None:
    person = Person(fake, "oVOICE_0001", "zh-Hans")
    await fake.subscribe(person.openid)
    await person.pick("是，我同意")
    await fake.voice(person.openid, "1。")  # speech recognition: "one."
    assert (await _conversation(settings, person.openid))["state"] == "age"
    await fake.voice(person.openid, None)  # recognition off: only typed answers are read
    assert "文字" in person.last() or "打字" in person.last(), person.last()
    assert (await _conversation(settings, person.openid))["state"] == "age"  # nothing lost


async def test_a_message_type_we_cannot_read_gets_a_kind_reply(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings
) -> None:
    person = Person(fake, "oIMAGE_0001", "zh-Hans")
    await fake.subscribe(person.openid)
    delivery = await fake.image(person.openid)
    assert delivery.statuses == [200] and delivery.passive
    assert "您同意吗" in delivery.passive  # the question again
    assert "答案前面的数字" in delivery.passive and "按钮" not in delivery.passive  # no buttons
    assert (await _conversation(settings, person.openid))["state"] == "consent"


async def test_no_openid_or_answer_in_the_logs(
    wxbot: WeChatBot, fake: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cap_libraries()  # as `python -m bot run` configures logging
    person = Person(fake, "oSECRET_openid_77", "zh-Hans")
    await fake.subscribe(person.openid)
    await person.pick("是，我同意")
    await person.say("1")
    await person.say("47")
    assert "oSECRET_openid_77" not in caplog.text and "wx:" not in caplog.text
