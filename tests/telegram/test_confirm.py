"""A reading offered to confirm, over Telegram: shown with buttons, confirmed by a tap."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.storage.store import Store
from tests.fakebotapi import FakeBotAPI
from tests.readings import proposed, script
from tests.telegram.conftest import Person, RunningBot


async def test_a_reading_is_confirmed_with_one_tap(
    bot: RunningBot, fake: FakeBotAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(monkeypatch, {"I think so": proposed("yes")})
    person = Person(fake, 1201, "en")
    await person.command("/start")
    await person.tap("agree")
    replies = await person.say("I think so")
    offer = replies[-1]
    assert offer.text == "Do you mean: Yes?"
    assert [label for _, label, _ in person.buttons()[-3:]] == ["Yes", "No", "I don't know"]
    assert person.buttons()[-3][2] == "a|diabetes_diagnosed#check|yes"
    replies = await person.tap("yes")
    assert "How old are you?" in replies[-1].text
    edited = next(m for m in fake.messages(person.user_id) if m.message_id == offer.message_id)
    assert edited.edited and "→ Yes" in edited.text  # the tapped check shows the answer
    store = await Store.open(settings)
    try:
        history = await store.answer_history("tg:1201")
    finally:
        await store.close()
    assert [(a.fact, a.value, a.raw) for a in history] == [
        ("diabetes_diagnosed", "yes", "I think so")
    ]


async def test_no_at_the_check_asks_again_over_telegram(
    bot: RunningBot, fake: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(monkeypatch, {"I think so": proposed("yes")})
    person = Person(fake, 1202, "en")
    await person.command("/start")
    await person.tap("agree")
    await person.say("I think so")
    replies = await person.tap("no")
    texts = [m.text for m in replies]
    assert any("OK, please answer this one again." in t for t in texts)
    assert "Has a doctor told you" in fake.last(person.user_id).text
