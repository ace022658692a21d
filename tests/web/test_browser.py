"""The console in a real browser (Debian's Chromium through Playwright), served by uvicorn:
a coordinator's day on SQLite and PostgreSQL, the languages, a hostile name, and phone-width
screenshots saved to build/screenshots/ for a person to look at."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page

from bot.config import Settings
from bot.storage import Store
from bot.web.texts import labels
from tests.running import TEAM_CHAT
from tests.team.conftest import until
from tests.team.helpers import make_referral
from tests.web.browser import PHONE, chromium, console, fits, shot, sign_in, team_chat

PASSWORD = "harbour-lantern-42"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """The test's store on the real clock, as the served console's own store is."""
    opened = await Store.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


async def coordinator(store: Store, name: str = "li") -> str:
    from bot.web.accounts import Accounts

    return await Accounts(store).add_user(name, "coordinator")


async def test_a_coordinator_works_a_referral_in_the_browser(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    near = await make_referral(store, 7501, source="flyer-sh01", lang="zh-Hans")
    clinic = await make_referral(store, 7502, source="clinic-02", lang="en")
    once = await coordinator(store)
    async with team_chat(store) as fake, console(settings) as url, chromium() as browser:
        card = await until(lambda: _card(fake, clinic), 10, "the card in the team chat")
        page = await browser.new_page(accept_downloads=True)
        await sign_in(page, url, "li", once, PASSWORD)
        assert await page.locator(".cards li").count() == 2

        await page.select_option("select[name=source]", "clinic-02")
        await page.click("form.filters button")
        await page.wait_for_url("**/referrals?*source=clinic-02*")
        assert await page.locator(".cards li").count() == 1
        assert clinic in await page.locator(".cards").inner_text()
        assert near not in await page.locator(".cards").inner_text()

        await page.click(f"text={clinic}")
        await page.wait_for_url(f"{url}/referrals/{clinic}")
        await page.click("form:has(input[name=action][value=contacted]) button")
        assert await page.locator("p.note[role=status]").inner_text() == "Saved."
        assert "By li" in await page.locator("main").inner_text()

        def edited() -> bool:
            return any(
                c.params.get("message_id") == card and c.status == 200
                for c in fake.calls_to("editMessageText")
            )

        await until(edited, 10, "editMessageText for the card")  # the card follows
        assert "li" in fake.message(TEAM_CHAT, card).text

        await page.fill("textarea[name=text]", "Called, call back at 3 pm")
        await page.click("form.add-note button")
        assert "Called, call back at 3 pm" in await page.locator(".notes").inner_text()

        await page.goto(f"{url}/referrals")
        async with page.expect_download() as info:
            await page.click("form[action='/export'] button")
        download = await info.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
        assert {near, clinic} <= {cell for row in rows for cell in row}

        await page.select_option("header select[name=language]", "zh-Hans")
        await page.click("form.lang-switch button")  # the header's language switch
        await page.locator("html[lang='zh-Hans']").wait_for(state="attached")
        assert page.url == f"{url}/referrals"  # back on the same page, now in Chinese
        chinese = labels(_translator("zh-Hans"))
        assert await page.locator("h1").inner_text() == chinese["referrals"]
        assert await page.locator("form[action='/export'] button").inner_text() == chinese["export"]

        await page.click("form[action='/logout'] button")
        await page.wait_for_url(f"{url}/login")
        await page.goto(f"{url}/referrals")
        assert page.url == f"{url}/login"  # signed out: back to the sign-in page


def _card(fake: object, ref: str) -> int | None:
    from tests.fakebotapi import FakeBotAPI

    assert isinstance(fake, FakeBotAPI)
    for message in fake.messages(TEAM_CHAT):
        if ref in message.text:
            return message.message_id
    return None


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_chinese_and_arabic_render_and_a_script_name_runs_nothing(
    settings: Settings, store: Store
) -> None:
    arabic = await make_referral(store, 7503, name="ليلى الحسيني")
    hostile = await make_referral(store, 7504, name=SCRIPT)
    once_zh, once_ar = await coordinator(store, "wang"), await coordinator(store, "amal")
    dialogs: list[str] = []

    async def opened(page: Page) -> None:
        page.on("dialog", lambda d: _dismiss(d, dialogs))

    chinese = settings.model_copy(update={"team_language": "zh-Hans"})
    async with console(chinese) as url, chromium() as browser:
        page = await browser.new_page()
        await opened(page)
        await sign_in(page, url, "wang", once_zh, PASSWORD)
        assert await page.get_attribute("html", "lang") == "zh-Hans"
        assert await page.get_attribute("html", "dir") == "ltr"
        words = labels(_translator("zh-Hans"))
        assert await page.locator("h1").inner_text() == words["referrals"]
        await page.goto(f"{url}/referrals/{hostile}")
        await page.click("form[action$='/contact'] button")
        names = await page.locator("dl.contact bdi").all_inner_texts()
        assert SCRIPT in names  # shown as the text it is
        await page.fill("textarea[name=text]", SCRIPT)
        await page.click("form.add-note button")
        assert SCRIPT in await page.locator(".notes").inner_text()

    right_to_left = settings.model_copy(update={"team_language": "ar"})
    async with console(right_to_left) as url, chromium() as browser:
        page = await browser.new_page()
        await opened(page)
        await sign_in(page, url, "amal", once_ar, PASSWORD)
        assert await page.get_attribute("html", "dir") == "rtl"
        assert await page.get_attribute("html", "lang") == "ar"
        await page.goto(f"{url}/referrals/{arabic}")
        await page.click("form[action$='/contact'] button")
        assert "ليلى الحسيني" in await page.locator("dl.contact bdi").all_inner_texts()
        direction = await page.evaluate("getComputedStyle(document.body).direction")
        assert direction == "rtl"
    assert dialogs == []  # nothing ran


def _dismiss(dialog: Dialog, seen: list[str]) -> None:
    seen.append(dialog.message)


def _translator(lang: str):  # type: ignore[no-untyped-def]
    from bot.i18n import get_catalogs

    return get_catalogs().get(lang)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_phone_width_screenshots_of_the_list_and_a_referral(
    settings: Settings, store: Store
) -> None:
    refs = [
        await make_referral(store, 7505, source="flyer-sh01", lang="zh-Hans"),
        await make_referral(store, 7506, source="clinic-02", lang="en"),
        await make_referral(store, 7507, source="wechat-ad", lang="zh-Hans"),
    ]
    await store.mark_reminded(refs[:1])
    once = await coordinator(store)
    async with console(settings) as url, chromium() as browser:
        context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
        page = await context.new_page()
        await sign_in(page, url, "li", once, PASSWORD)
        assert await fits(page), "the list is wider than a phone"
        listed = shot("console-list.png")
        await page.screenshot(path=str(listed), full_page=True)

        await page.goto(f"{url}/referrals/{refs[0]}")
        await page.click("form:has(input[name=action][value=contacted]) button")
        await page.fill("textarea[name=text]", "Called; visit on Monday at 9:00")
        await page.click("form.add-note button")
        assert await fits(page), "the referral page is wider than a phone"
        one = shot("console-referral.png")
        await page.screenshot(path=str(one))  # the first screen: status, buttons, notes
        await context.close()
    assert listed.stat().st_size > 10_000 and one.stat().st_size > 10_000
    print(f"\nscreenshots: {listed} and {one}")
