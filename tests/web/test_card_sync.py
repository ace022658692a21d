"""The console and the Telegram team chat stay consistent: a status set in the console edits
the card in the team chat (through the outbox's ``card_edit``), and a status set with a
card's button shows in the console. The real bot serves against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.storage import Store
from bot.team.cards import TeamTexts, actions_for
from tests.fakebotapi import FakeBotAPI
from tests.running import TEAM_CHAT, RunningBot
from tests.team import conftest as team
from tests.team.conftest import COORDINATOR, card_for, press, until
from tests.team.helpers import make_referral
from tests.web.conftest import Web, make_web

fake = team.fake
settings = team.settings
options = team.options
team_bot = team.team_bot
store = team.store


@pytest.fixture
async def web(store: Store, settings: Settings) -> AsyncIterator[Web]:
    english = settings.model_copy(update={"team_language": "en"})
    made = make_web(store, english, lambda: datetime.now(UTC))
    try:
        yield made
    finally:
        await made.client.aclose()


async def test_a_status_set_in_the_console_edits_the_telegram_card(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store, web: Web
) -> None:
    ref = await make_referral(store, 7301)
    card = await card_for(fake, ref)
    zh = TeamTexts("zh-Hans")  # the team chat speaks zh-Hans here, the console English
    assert zh.status("contacted") not in card.text
    await web.coordinator("wei")

    page = await web.client.get(f"/referrals/{ref}")
    done = await web.post(f"/referrals/{ref}/status", page, action="contacted", expected="new")
    assert done.status_code == 200

    def edited() -> bool:
        return any(
            c.params.get("message_id") == card.message_id and c.status == 200
            for c in fake.calls_to("editMessageText")
        )

    await until(edited, 10, "the card's editMessageText")
    shown = fake.message(TEAM_CHAT, card.message_id)
    assert shown.edited and zh.status("contacted") in shown.text
    assert "wei" in shown.text  # who changed it: the console account
    assert [b["callback_data"].split("|")[2] for b in shown.buttons] == [
        "visit_scheduled",
        "screen_failed",
        "attempt",
    ]  # the buttons of the new status, as a button press would leave them

    # a second change is a second edit (one card_edit per change), and a call attempt too
    page = await web.client.get(f"/referrals/{ref}")
    await web.post(f"/referrals/{ref}/status", page, action="attempt", expected="contacted")
    page = await web.client.get(f"/referrals/{ref}")
    await web.post(f"/referrals/{ref}/status", page, action="visit_scheduled", expected="contacted")

    def buttons() -> list[str]:
        final = fake.message(TEAM_CHAT, card.message_id)
        return [b["callback_data"].split("|")[2] for b in final.buttons]

    def ok_edits() -> int:
        return sum(1 for c in fake.calls_to("editMessageText") if c.status == 200)

    # an edit renders the referral as it is when it is sent, so the final buttons can show
    # before the last queued edit went out: wait for all three, then for an empty outbox
    wanted = actions_for("visit_scheduled", 1)
    await until(lambda: buttons() == wanted and ok_edits() >= 3, 10, "the third edit")
    for _ in range(500):
        counts = await store.outbox_counts()
        if not counts.get("pending"):
            break
        await asyncio.sleep(0.02)
    assert ok_edits() == 3  # one edit per change, none twice
    assert buttons() == wanted


async def test_a_status_set_in_telegram_shows_in_the_console(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store, web: Web
) -> None:
    ref = await make_referral(store, 7302)
    card = await card_for(fake, ref)
    await press(fake, COORDINATOR, card, "contacted")
    await web.coordinator("wei")

    page = await web.client.get(f"/referrals/{ref}")
    assert page.status_code == 200
    assert "Contacted" in page.text and "By Telegram team chat" in page.text
    listing = await web.client.get("/referrals", params={"status": "contacted"})
    assert ref in listing.text
    # the console offers what the card offers now, and a stale console page changes nothing
    assert 'value="visit_scheduled"' in page.text
    stale = await web.post(f"/referrals/{ref}/status", page, action="contacted", expected="new")
    assert "changed this referral meanwhile" in stale.text
