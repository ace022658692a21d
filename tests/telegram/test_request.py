"""The Bot API's HTTP layer (aiohttp) against the fake Bot API over real HTTP, faults included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import InputFile
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot.channels.telegram.request import AiohttpRequest
from tests.fakebotapi import FakeBotAPI, Fault

USER = 4242


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """A fake Bot API with one user who has started the bot."""
    api = FakeBotAPI(rate_limits=False)
    await api.start()
    api.add_user(USER, "Ana", language_code="es")
    api.user_command(USER, "/start")
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[ExtBot[None]]:
    """A PTB bot whose every call goes through ``AiohttpRequest``."""
    request = AiohttpRequest(8, read_timeout=1.0, connect_timeout=2.0)
    bot: ExtBot[None] = ExtBot(fake.token, base_url=fake.base_url, request=request)
    await bot.initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()


async def test_a_message_goes_out_and_comes_back_parsed(
    bot: ExtBot[None], fake: FakeBotAPI
) -> None:
    text = "你好 · مرحبا · <b>¿Sí?</b>"
    sent = await bot.send_message(USER, text, parse_mode="HTML")
    assert sent.text == "你好 · مرحبا · ¿Sí?"
    assert [m.text for m in fake.messages(USER)] == [sent.text]


async def test_a_file_is_uploaded_as_multipart_with_its_name(
    bot: ExtBot[None], fake: FakeBotAPI
) -> None:
    data = "编号,状态\n1,已转介\n".encode()
    sent = await bot.send_document(
        USER, InputFile(data, filename="转介-2026.csv"), caption="Lista del día"
    )
    assert sent.document is not None
    stored = fake.file(sent.document.file_id)
    assert (stored.filename, stored.data) == ("转介-2026.csv", data)
    assert fake.messages(USER)[-1].text == "Lista del día"
    assert fake.calls_to("sendDocument")[0].files == {"document": "转介-2026.csv"}


async def test_telegram_errors_keep_their_meaning(bot: ExtBot[None], fake: FakeBotAPI) -> None:
    with pytest.raises(BadRequest, match=r"[Cc]hat not found"):
        await bot.send_message(999_999, "nobody")
    fake.faults.add(Fault.RETRY_AFTER, 1.0, methods="sendMessage", retry_after=7, limit=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "later")
    assert caught.value.retry_after == 7


async def test_a_dropped_connection_is_a_network_error_and_is_not_sent_again(
    bot: ExtBot[None], fake: FakeBotAPI
) -> None:
    fake.faults.add(Fault.DROP, 1.0, methods="sendMessage", executed=True, limit=1)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(USER, "once")
    assert not isinstance(caught.value, TimedOut)
    assert [m.text for m in fake.messages(USER)] == ["once"]  # carried out once, never retried
    assert len(fake.calls_to("sendMessage")) == 1
    assert (await bot.send_message(USER, "next")).text == "next"  # the bot goes on


async def test_an_answer_that_never_comes_is_a_time_out(
    bot: ExtBot[None], fake: FakeBotAPI
) -> None:
    fake.faults.add(Fault.TIMEOUT, 1.0, methods="sendMessage", hold=3.0, limit=1)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "waiting", read_timeout=0.3)
    assert (await bot.send_message(USER, "next")).text == "next"


async def test_server_errors_are_network_errors(bot: ExtBot[None], fake: FakeBotAPI) -> None:
    fake.faults.add(Fault.BAD_GATEWAY, 1.0, methods="sendMessage", limit=1)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "gateway")


async def test_it_refuses_to_send_before_initialize_and_shuts_down_twice() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot/getMe", "POST")
    await request.initialize()
    await request.initialize()  # the same session
    await request.shutdown()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot/getMe", "POST")


async def test_nothing_listening_is_a_network_error() -> None:
    async with AiohttpRequest(connect_timeout=1.0) as request:
        with pytest.raises(NetworkError):
            await request.post("http://127.0.0.1:9/bot123:abc/getMe")


def test_the_environment_s_proxy_is_used_except_for_no_proxy_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.hospital.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    request = AiohttpRequest()
    assert request._proxy("https://api.telegram.org/bot1:x/getMe") == (
        "http://proxy.hospital.example:3128"
    )
    assert request._proxy("http://127.0.0.1:8081/bot1:x/getMe") is None
    monkeypatch.delenv("HTTPS_PROXY")
    assert request._proxy("https://api.telegram.org/bot1:x/getMe") is not None  # read once
