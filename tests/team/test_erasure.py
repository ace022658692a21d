"""Erasure that is true: after /delete the team chat's card shows only the reference code,
through the outbox (Telegram faults are retried), and the database keeps nothing of the person."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from bot.config import Settings
from bot.storage import Store
from tests.fakebotapi import FakeBotAPI
from tests.running import TEAM_CHAT, RunningBot
from tests.team.conftest import COORDINATOR, card_for, press, until
from tests.team.helpers import make_referral
from tests.telegram.conftest import Person

NAME = "王芳"
PHONE = "+86 138 0013 8000"


async def test_delete_redacts_the_team_card_and_leaves_nothing_of_the_person(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store, settings: Settings
) -> None:
    user = 7801
    ref = await make_referral(store, user, name=NAME, phone=PHONE, username="wang_f")
    card = await card_for(fake, ref)
    assert NAME in card.text and "130斤" in card.text
    await press(fake, COORDINATOR, card, "contacted")
    fake.faults.add("server_error", 1.0, methods="editMessageText", limit=2)  # Telegram fails

    person = Person(fake, user, "zh-Hans")
    await person.command("/delete")
    replies = await person.tap("erase")
    assert replies  # the patient is answered

    def redacted() -> bool:
        text = fake.message(TEAM_CHAT, card.message_id).text
        return NAME not in text

    await until(redacted, 15, "the redacted card")
    shown = fake.message(TEAM_CHAT, card.message_id)
    assert ref in shown.text
    for gone in (NAME, "138", "wang_f", "130斤", "65"):
        assert gone not in shown.text, gone
    assert not shown.buttons  # nothing left to press

    assert await store.referral(ref) is None
    assert await store.find_chat(f"tg:{user}") is None
    audit = await store.recent_audit(50)
    assert all(a.subject != ref for a in audit)  # nothing points back to the person
    assert all(ref not in str(a.detail) for a in audit)
    user_hash = store.user_hash(f"tg:{user}")
    database = Path(settings.database_url.split("///", 1)[1])
    with contextlib.closing(sqlite3.connect(database)) as conn:
        dump = "\n".join(conn.iterdump())  # every row of every table, as SQL text
    assert ref not in dump and user_hash not in dump
