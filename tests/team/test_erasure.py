"""Erasure that is true: after /delete the team chat's card shows only the reference code, a
burst's CSV file that listed the person is replaced by one without them, through the outbox
(Telegram faults are retried), and the database keeps nothing of the person."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
from pathlib import Path

from bot.config import Settings
from bot.storage import Store
from bot.team.cards import TeamTexts
from bot.team.items import removal_reason
from tests.fakebotapi import FakeBotAPI, Fault, SentMessage
from tests.running import TEAM_CHAT, RunningBot
from tests.team.conftest import COORDINATOR, card_for, press, team_messages, until
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


async def test_delete_replaces_the_burst_csv_that_listed_the_person(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store, settings: Settings
) -> None:
    fake.faults.add(Fault.RETRY_AFTER, 1.0, methods="sendMessage", retry_after=2, limit=1)
    user, name, phone = 7901, "李明", "+86 139 0000 1111"
    refs = [await make_referral(store, 7902 + n, name=f"病人{n}") for n in range(10)]
    ref = await make_referral(store, user, name=name, phone=phone)
    refs += [await make_referral(store, 7950 + n, name=f"病人{n + 10}") for n in range(10)]

    def csv_with(code: str) -> SentMessage | None:
        return next((m for m in team_messages(fake) if m.document and code in rows(m)), None)

    posted = await until(lambda: csv_with(ref), 20, "the burst's CSV file")
    listed = rows(posted)
    assert name in posted.document.data.decode("utf-8-sig")
    fake.faults.add(Fault.SERVER_ERROR, 1.0, methods="editMessageMedia", limit=1)

    person = Person(fake, user, "zh-Hans")
    await person.command("/delete")
    assert await person.tap("erase")

    def replaced() -> bool:
        return ref not in rows(fake.message(TEAM_CHAT, posted.message_id))

    await until(replaced, 15, "the CSV file without the erased person")
    shown = fake.message(TEAM_CHAT, posted.message_id)
    assert shown.document is not None
    data = shown.document.data.decode("utf-8-sig")
    for gone in (ref, name, "139 0000", "1111"):
        assert gone not in data, gone
    assert sorted(rows(shown)) == sorted(c for c in listed if c != ref)  # the others stay
    texts = TeamTexts(settings.team_language)
    assert removal_reason(texts, "erased") in (shown.caption or "")
    assert texts.digest_caption(len(listed) - 1) in (shown.caption or "")
    assert fake.faults.injected["server_error"] == 1  # the failed edit was tried again
    assert await store.referrals_in_digest(posted.message_id)  # the others still point to it
    user_hash = store.user_hash(f"tg:{user}")
    database = Path(settings.database_url.split("///", 1)[1])
    with contextlib.closing(sqlite3.connect(database)) as conn:
        dump = "\n".join(conn.iterdump())
    assert ref not in dump and user_hash not in dump


def rows(message: SentMessage) -> list[str]:
    """The reference codes a CSV message lists (none for any other message)."""
    if message.document is None:
        return []
    reader = csv.DictReader(io.StringIO(message.document.data.decode("utf-8-sig")))
    return [row["ref"] for row in reader]
