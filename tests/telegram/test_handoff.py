"""The handoff over Telegram: consent, contact, reference code; nothing readable at rest."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import Settings
from bot.logs import cap_libraries
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.telegram.conftest import Person, RunningBot
from tests.telegram.test_screening import screen

NAME = "李雷 <b>&*"
PHONE = "+86 138 0013 8000"


async def test_handoff_with_shared_contact_keeps_nothing_in_plain_text(
    bot: RunningBot, fake: FakeBotAPI, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cap_libraries()  # as `python -m bot run` configures logging
    # a real-length Telegram id: four digits can turn up by chance inside a hex lookup hash
    person = Person(fake, 7301952846, "en", name=NAME)
    await person.command("/start")
    await person.tap("agree")
    await screen(person, ELIGIBLE_EN)
    replies = await person.tap("yes")  # share my details
    assert replies[-1].reply_markup and replies[-1].reply_markup.get(
        "keyboard"
    )  # Telegram's phone button
    fake.mark()
    fake.user_shares_contact(person.user_id, PHONE, first_name=NAME)
    await fake.wait_for(lambda m: m.chat_id == person.user_id and NAME in m.text, timeout=10)
    await bot.settled()
    await person.tap("yes")  # use my Telegram name
    await person.tap("skip")
    await person.tap("morning")
    replies = await person.tap("cmn")  # Mandarin: a spoken language, not a script
    final = replies[-1].text
    assert "reference code is CZ-" in final and "2 working days" in final
    code = final.split("reference code is ")[1].split(".")[0]

    store = await Store.open(settings)
    try:
        details = await store.referral(code)
        assert details is not None and details.contact is not None
        assert details.contact.phone == "+8613800138000" and details.contact.name == NAME
        assert details.status == "new"
        counts = await store.outbox_counts()
        assert sum(counts.values()) >= 1
    finally:
        await store.close()

    database = Path(settings.database_url.split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    # the phone in every way it is written ("0013" alone matched timestamps and hashes by chance)
    phone_forms = ("13800138000", "138 0013 8000", "138-0013-8000")
    for secret in (*phone_forms, "李雷", str(person.user_id)):
        assert secret.encode() not in raw, f"{secret!r} readable in the database file"
        assert secret not in caplog.text, f"{secret!r} in the logs"


async def test_declining_consent_asks_no_health_question(bot: RunningBot, fake: FakeBotAPI) -> None:
    person = Person(fake, 5002, "en")
    await person.command("/start")
    replies = await person.tap("decline")
    assert "will not ask any health questions" in replies[-1].text
    replies = await person.say("45")
    assert "Question" not in replies[-1].text
