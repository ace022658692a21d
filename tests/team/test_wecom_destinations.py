"""Team destinations together: Telegram + WeCom + e-mail each get each card once, and a
WeChat-only process (no Telegram) delivers its referrals to the WeCom robot."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.startup import services
from bot.storage import Store
from bot.storage.commands import keygen, upgrade
from bot.team import TEAM_REMINDER
from bot.team.reminders import reminder_kinds, use_reminder_kinds
from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.fakewechat import FakeWeChat
from tests.fakewecom import FakeWeCom
from tests.running import TEAM_CHAT, RunningBot, bot_settings
from tests.storage.conftest import (  # noqa: F401  (fixtures: SQLite and PostgreSQL)
    backend,
    db_url,
    pg_server,
    pg_session_db,
    sqlite_template,
)
from tests.team.conftest import Inbox, card_refs, cards, fast_options, free_port, until
from tests.team.helpers import make_referral
from tests.team.test_wecom import CONSOLE, WINDOW, Delivery, delivered, wecom_referral
from tests.wechat.conftest import wechat_settings
from tests.wechat.person import Person

REF = re.compile(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def reminders_reset() -> Iterator[None]:
    """``services`` sets which destinations are reminded, for the process: put it back."""
    before = reminder_kinds()
    try:
        yield
    finally:
        use_reminder_kinds(before)


def wecom_values(robot: FakeWeCom) -> dict[str, Any]:
    return {
        "wecom_robot_key": robot.key,
        "wecom_base_url": robot.base_url,
        "wecom_window_seconds": WINDOW,
        "web_base_url": CONSOLE,
    }


def mailed(inbox: Inbox) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _sender, _to, message in inbox.messages:
        subject = str(make_header(decode_header(message["Subject"])))
        seen.update(set(REF.findall(subject)))
    return seen


async def test_telegram_wecom_and_email_each_get_each_card_once(
    fake: FakeBotAPI,
    robot_api: FakeWeCom,
    smtp: tuple[Inbox, int],
    db_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox, port = smtp
    settings = bot_settings(
        fake,
        tmp_path,
        database_url=db_url,
        handoff_email="study-team@example.org",
        smtp_host="127.0.0.1",
        smtp_port=port,
        **wecom_values(robot_api),
    )
    telegram = RunningBot(settings, fake, fast_options())
    await telegram.start()
    wecom = Delivery(settings, telegram=True)  # beside the Telegram bot, as `run` starts it
    wecom.start()
    store = await Store.open(settings)
    try:
        refs = []
        for n in range(12):
            ref = await make_referral(store, 8100 + n, card=True, mail=True)
            await store.enqueue("wecom_card", f"wecom:{ref}", {"ref": ref})
            refs.append(ref)
        await until(lambda: len(cards(fake)) == 12, 30, "the Telegram cards")
        await until(lambda: len(delivered(robot_api)) == 12, 30, "the WeCom cards")
        await until(lambda: len(mailed(inbox)) == 12, 30, "the e-mails")
        await asyncio.sleep(WINDOW)  # anything repeated would have arrived by now
        telegram_cards = Counter(
            ref for m in fake.messages(TEAM_CHAT) if len(card_refs(m)) == 1 for ref in card_refs(m)
        )
        for seen in (telegram_cards, delivered(robot_api), mailed(inbox)):
            assert set(seen) == set(refs) and sum(seen.values()) == 12, seen
        assert robot_api.rate_errors == 0 and fake.flood_errors == 0
        counts = await store.outbox_counts()
        assert counts.get("pending", 0) == 0 and counts.get("failed", 0) == 0
    finally:
        await wecom.stop()
        await telegram.stop()
        await store.close()


async def test_a_wechat_only_process_delivers_its_referrals_to_wecom(
    robot_api: FakeWeCom,
    db_url: str,  # noqa: F811
    reminders_reset: None,
) -> None:
    port = free_port()
    wechat = FakeWeChat(f"http://127.0.0.1:{port}/wechat", aes_key=None, timeout=1.0)
    await wechat.start()
    settings = wechat_settings(
        db_url, port, wechat, wechat_customer_service=False, **wecom_values(robot_api)
    )
    await upgrade(settings)
    stop = asyncio.Event()
    running = asyncio.gather(*services(settings, stop))  # what `python -m bot run` serves
    assert reminder_kinds() == ("wecom_reminder",)  # no Telegram team chat configured
    try:
        person = Person(wechat, "oZH_wecom_0001", "zh-Hans")
        await until(lambda: _listening(port), 10, "the WeChat server")
        await wechat.subscribe(person.openid)
        await person.pick("是，我同意")
        await person.screen(ELIGIBLE_EN)
        await person.pick("是，发送我的资料")
        await person.say("138 0013 8000")
        await person.say("李雷")
        await person.pick("跳过")
        await person.pick("上午")
        await person.pick("普通话")
        code = REF.search(person.last())
        assert code is not None, person.last()
        posted = await until(lambda: robot_api.posted(), 20, "the WeCom card")
        assert code.group() in posted[0].content and "新转介" in posted[0].content
        assert "李雷" not in posted[0].content and "138" not in posted[0].content.replace(
            code.group(), ""
        )
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)
        await wechat.stop()
    assert len(robot_api.posted()) == 1


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_reminders_default_to_the_telegram_team_chat() -> None:
    assert TEAM_REMINDER in reminder_kinds()


async def test_one_destination_alone_needs_no_telegram(
    robot_api: FakeWeCom,
    db_url: str,  # noqa: F811
) -> None:
    """A WeCom robot and nothing else: the cards arrive, the Telegram kinds wait untouched."""
    settings = Settings(
        database_url=db_url,
        data_encryption_key=keygen(),
        **wecom_values(robot_api),
        _env_file=None,
    )
    running = Delivery(settings)
    running.start()
    store = await Store.open(settings)
    try:
        ref = await wecom_referral(store, 8300)
        await store.enqueue("referral_card", ref, {"ref": ref})  # for a Telegram chat elsewhere
        await until(lambda: delivered(robot_api), 10, "the WeCom card")
        for _ in range(200):  # the card is marked sent right after WeCom's answer
            counts = await store.outbox_counts()
            if counts.get("sent"):
                break
            await asyncio.sleep(0.05)
        assert counts == {"pending": 1, "sent": 1}  # the Telegram card waits for its process
    finally:
        await running.stop()
        await store.close()
