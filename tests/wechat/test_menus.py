"""Options as menu messages (菜单消息): whole screenings answered by clicks, a stale click, and
an account that may not send menus."""

from __future__ import annotations

import re

import pytest

from bot.config import Settings
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakewechat import FakeWeChat
from tests.wechat.conftest import WeChatBot, wechat_settings
from tests.wechat.person import Person


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    port = int(fake.bot_url.split(":")[2].split("/")[0])
    return wechat_settings(db_url, port, fake, wechat_customer_service=True, wechat_menus=True)


async def _clicked_through(person: Person, consent: str, handoff: tuple[str, ...]) -> str:
    """Consent, screen and share details by clicks (phone and name typed); return the code."""
    yes, name, skip, time, call = handoff
    await person.click(consent)
    await person.screen(ELIGIBLE_EN, clicks=True)
    await person.click(yes)
    await person.say("138 0013 8000")
    await person.say(name)
    for label in (skip, time, call):
        await person.click(label)
    final = (await person.fake.wait_until(lambda s: "CZ-" in s[-1].text))[-1].text
    code = re.search(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}", final)
    assert code is not None, final
    return code.group()


@pytest.mark.parametrize("mode", ["plain"])
async def test_zh_hans_screening_by_menu_clicks(
    wxbot: WeChatBot, fake: FakeWeChat, settings: Settings
) -> None:
    person = Person(fake, "oMENU_zh_0001", "zh-Hans")
    await fake.subscribe(person.openid)
    await fake.wait_until(lambda sent: any(s.how == "menu" for s in sent))
    consent = next(s for s in fake.sent if s.how == "menu")
    assert "您同意吗" in consent.text and "回复 1 = 是，我同意" in consent.text
    assert "点一下您的答案" in consent.text  # the tail says a click or the number
    handoff = ("是，发送我的资料", "李雷", "跳过", "上午", "普通话")
    code = await _clicked_through(person, "是，我同意", handoff)
    store = await Store.open(settings)
    try:
        details = await store.referral(code)
        assert details is not None and details.contact is not None
        assert details.contact.phone == "+8613800138000"
    finally:
        await store.close()
    assert fake.refused == []  # every message within the platform's limits and allowance
    assert sum(s.how == "menu" for s in fake.sent) >= len(ELIGIBLE_EN) // 2


@pytest.mark.parametrize("mode", ["safe"])
async def test_english_screening_by_menu_clicks_in_safe_mode(
    wxbot: WeChatBot, fake: FakeWeChat
) -> None:
    person = Person(fake, "oMENU_en_0002", "en")
    await fake.subscribe(person.openid, "menu-poster__en")
    handoff = ("Yes, send my details", "Li Lei", "Skip", "Morning", "普通话")
    code = await _clicked_through(person, "Yes, I agree", handoff)
    assert code.startswith("CZ-") and fake.refused == []


@pytest.mark.parametrize("mode", ["plain"])
async def test_an_old_menu_clicked_again_changes_nothing(
    wxbot: WeChatBot, fake: FakeWeChat
) -> None:
    person = Person(fake, "oMENU_old_0003", "en")
    await fake.subscribe(person.openid, "x__en")
    await person.click("Yes, I agree")
    await person.click("Yes")  # diagnosed: now the age is asked
    first = [s for s in fake.sent if s.how == "menu"][1]  # the "diagnosed?" menu
    before = len(fake.sent)
    await fake.click_menu(person.openid, "Reply 2 = No", first)
    await fake.wait_until(lambda sent: len(sent) > before)
    assert "age" in fake.sent[-1].text.lower() or "old" in fake.sent[-1].text.lower()
    assert all("not a diagnosis" not in s.text for s in fake.sent[before:])


@pytest.mark.parametrize("mode", ["plain"])
async def test_an_account_that_may_not_send_menus_gets_numbered_text(
    wxbot: WeChatBot, fake: FakeWeChat
) -> None:
    fake.certified = False  # 40200 invalid account type
    person = Person(fake, "oMENU_none_0004", "zh-Hans")
    await fake.subscribe(person.openid)
    await fake.wait_until(lambda sent: "您同意吗" in sent[-1].text)
    assert "回复 1 = 是，我同意" in person.last()
    await person.pick("是，我同意")  # typing the number works
    await fake.wait_until(lambda sent: "回复 1 = 是" in sent[-1].text)
    assert not any(s.how == "menu" for s in fake.sent)
    assert fake.refused == ["invalid account type"]  # asked once, then text only


def test_menus_need_customer_service_messages(fake: FakeWeChat) -> None:
    from bot.channels.wechat.main import WeChatSettingsError, check_settings

    settings = wechat_settings("sqlite+aiosqlite:///:memory:", 1, fake, wechat_menus=True)
    with pytest.raises(WeChatSettingsError, match="WECHAT_CUSTOMER_SERVICE"):
        check_settings(settings)
