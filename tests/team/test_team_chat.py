"""The study team's chat end to end: the real bot against the fake Bot API."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import pytest

from bot.config import Settings
from bot.storage import Store
from bot.team import reminders as reminder_module
from tests.fakebotapi import FakeBotAPI
from tests.running import RunningBot, settled
from tests.team.conftest import (
    COORDINATOR,
    SECOND,
    STRANGER,
    TEAM_CHAT,
    card_for,
    cards,
    press,
    tap,
    team_command,
    team_messages,
    until,
)
from tests.team.helpers import make_referral
from tests.telegram.conftest import Person


async def test_the_card_shows_everything_and_a_hostile_name_arrives_intact(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    ref = await make_referral(
        store,
        7001,
        name="李 <b>&*",
        username="li_w",
        email="li@example.com",
        best_time="下午 2-5 点",
        call_lang="zh-Hans",
    )
    card = await card_for(fake, ref)
    text = card.text
    assert card.parse_mode == "HTML"
    assert ref in text.splitlines()[0]
    assert "李 <b>&*" in text  # shown as typed: nothing was taken as markup
    assert card.raw_text.count("<b>") == card.raw_text.count("</b>")  # only our own bold
    for expected in (
        "130斤",  # the patient's own words beside the normalised value
        "65",
        "23.9",  # BMI
        "✅",
        "flyer-sh01",
        "+86 138 0013 8000",
        "li@example.com",
        "@li_w",
        "下午 2-5 点",
        "NCT06751199",
        "简体中文",
    ):
        assert expected in text, expected
    data = [b["callback_data"] for b in card.buttons]
    assert data == [f"r|{ref}|contacted", f"r|{ref}|attempt"]
    assert all(len(d.encode()) <= 64 for d in data)

    async def card_id() -> int | None:
        details = await store.referral(ref)
        return details.card_message_id if details else None

    deadline = asyncio.get_running_loop().time() + 10
    while await card_id() is None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)  # polling the database, with a deadline
    assert await card_id() == card.message_id


async def test_each_status_button_moves_the_referral_and_edits_the_card(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    fake.user_sends(7101, "你好", language_code="zh-hans")  # the patient's chat exists
    await settled(fake, store)
    ref = await make_referral(store, 7101)
    card = await card_for(fake, ref)

    await press(fake, COORDINATOR, card, "contacted")
    card = fake.message(TEAM_CHAT, card.message_id)
    assert card.edited
    assert "Li W." in card.text and str(COORDINATOR) not in card.text  # who, not their id
    assert [b["callback_data"].split("|")[2] for b in card.buttons] == [
        "visit_scheduled",
        "screen_failed",
        "attempt",
    ]
    await press(fake, SECOND, card, "visit_scheduled")
    card = fake.message(TEAM_CHAT, card.message_id)
    assert "Mei C." in card.text
    await press(fake, SECOND, card, "enrolled")
    card = fake.message(TEAM_CHAT, card.message_id)
    assert card.buttons == []  # enrolled: nothing more to do

    details = await store.referral(ref)
    assert details is not None and details.status == "enrolled"
    moves = [
        (a.detail["from"], a.detail["to"])
        for a in reversed(await store.recent_audit(100))
        if a.action == "referral_status" and a.subject == ref
    ]
    assert moves == [
        ("new", "contacted"),
        ("contacted", "visit_scheduled"),
        ("visit_scheduled", "enrolled"),
    ]
    actors = {a.actor_hash for a in await store.recent_audit(100) if a.action == "referral_status"}
    assert actors == {store.user_hash(f"tg:{COORDINATOR}"), store.user_hash(f"tg:{SECOND}")}

    # the patient heard once, in their own language, when the referral was first acknowledged
    notices = [m for m in fake.messages(7101) if ref in m.text]
    assert len(notices) == 1
    assert "研究团队" in notices[0].text

    other = await make_referral(store, 7102)
    card = await card_for(fake, other)
    await press(fake, COORDINATOR, card, "contacted")
    await press(fake, COORDINATOR, fake.message(TEAM_CHAT, card.message_id), "screen_failed")
    details = await store.referral(other)
    assert details is not None and details.status == "screen_failed"


async def test_not_reachable_is_offered_after_three_call_attempts(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    ref = await make_referral(store, 7201)
    card = await card_for(fake, ref)
    for attempt in (1, 2, 3):
        actions = [b["callback_data"].split("|")[2] for b in card.buttons]
        assert ("not_reachable" in actions) is (attempt > 3)
        await press(fake, COORDINATOR, card, "attempt")
        card = fake.message(TEAM_CHAT, card.message_id)
    actions = [b["callback_data"].split("|")[2] for b in card.buttons]
    assert actions == ["contacted", "not_reachable", "attempt"]
    assert "3" in card.text
    details = await store.referral(ref)
    assert details is not None and details.attempts == 3
    assert details.acknowledged_at is not None  # a call attempt acknowledges it

    # a forged "not reachable" before three attempts is refused as out of date
    early = await make_referral(store, 7202)
    early_card = await card_for(fake, early)
    tap(fake, COORDINATOR, early_card, f"r|{early}|not_reachable")
    await settled(fake, store)
    details = await store.referral(early)
    assert details is not None and details.status == "new"

    await press(fake, COORDINATOR, card, "not_reachable")
    details = await store.referral(ref)
    assert details is not None and details.status == "not_reachable"


async def until_sent(store: Store, timeout: float = 10.0) -> None:
    """Wait (bounded) until the outbox has nothing pending."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await store.outbox_counts()).get("pending", 0):
        assert asyncio.get_running_loop().time() < deadline, "the outbox never emptied"
        await asyncio.sleep(0.02)  # polling the database, with a deadline


@pytest.fixture
def allowlisted(settings: Settings) -> Settings:
    settings.coordinator_user_ids = [COORDINATOR]
    return settings


async def test_a_member_outside_the_allowlist_is_refused(
    allowlisted: Settings, team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    ref = await make_referral(store, 7301)
    card = await card_for(fake, ref)
    tap(fake, SECOND, card, f"r|{ref}|contacted")
    await settled(fake, store)
    details = await store.referral(ref)
    assert details is not None and details.status == "new"
    answers = list(fake.callback_answers.values())
    assert answers[-1]["show_alert"] and "协调员" in answers[-1]["text"]
    refused = [a for a in await store.recent_audit(20) if a.action == "referral_refused"]
    assert refused and refused[0].detail == {"action": "contacted", "reason": "not_listed"}
    assert refused[0].actor_hash == store.user_hash(f"tg:{SECOND}")

    await team_command(fake, SECOND, "/export")
    assert not any(m.document for m in team_messages(fake))
    await press(fake, COORDINATOR, card, "contacted")  # the listed coordinator may
    details = await store.referral(ref)
    assert details is not None and details.status == "contacted"


async def test_non_members_and_other_chats_are_refused(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    ref = await make_referral(store, 7401)
    card = await card_for(fake, ref)
    tap(fake, STRANGER, card, f"r|{ref}|contacted")  # not (or no longer) a member
    await settled(fake, store)
    details = await store.referral(ref)
    assert details is not None and details.status == "new"
    refused = [a for a in await store.recent_audit(20) if a.action == "referral_refused"]
    assert refused[0].detail["reason"] == "not_member"

    person = Person(fake, 7402, "en")
    replies = await person.command("/stats")
    assert replies and "only works in the study team" in replies[-1].text
    assert not any(m.photo for m in fake.messages(7402))
    logged = [a for a in await store.recent_audit(20) if a.action == "team_refused"]
    assert logged[0].actor_hash is None and logged[0].detail["where"] == "other"


async def test_referrals_lists_the_open_ones_and_shows_a_card_again(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    first = await make_referral(store, 7501)
    second = await make_referral(store, 7502)
    await card_for(fake, first)
    card = await card_for(fake, second)
    await press(fake, COORDINATOR, card, "contacted")
    await press(fake, COORDINATOR, fake.message(TEAM_CHAT, card.message_id), "screen_failed")

    await team_command(fake, COORDINATOR, "/referrals")
    listing = team_messages(fake)[-1]
    assert first in listing.text and second not in listing.text
    show = f"r|{first}|show"
    assert show in [b["callback_data"] for b in listing.buttons]
    before = len(team_messages(fake))
    tap(fake, COORDINATOR, listing, show)
    await settled(fake, store)
    assert len(team_messages(fake)) == before + 1
    again = team_messages(fake)[-1]
    details = await store.referral(first)
    assert details is not None and details.card_message_id == again.message_id
    assert cards(fake)[first].message_id == again.message_id


async def test_export_sends_a_csv_with_a_column_per_criterion_and_answer(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    refs = [await make_referral(store, 7600 + i, name=f"病人 {i}") for i in range(3)]
    await team_command(fake, COORDINATOR, "/export")
    document = (await until(lambda: [m for m in team_messages(fake) if m.document]))[-1]
    assert document.document is not None
    assert (document.document.filename or "").endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(document.document.data.decode("utf-8-sig"))))
    assert [r["ref"] for r in rows] == refs
    assert rows[0]["name"] == "病人 0"
    assert rows[0]["answer:weight [kg]"] == "65" and rows[0]["words:weight"] == "130斤"
    assert rows[0]["criterion:bmi"] == "pass" and rows[0]["bmi"] == "23.9"
    assert rows[0]["status"] == "new" and rows[0]["lang"] == "zh-Hans"
    assert "3" in document.text  # the caption counts them


async def test_stats_sends_the_funnel_as_a_png(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    await make_referral(store, 7701)
    await team_command(fake, COORDINATOR, "/stats")
    photo = (await until(lambda: [m for m in team_messages(fake) if m.photo], 20))[-1]
    assert photo.photo is not None and photo.photo.data.startswith(b"\x89PNG")
    assert photo.photo.width > 500


async def test_one_reminder_for_a_referral_nobody_acknowledged(
    team_bot: RunningBot,
    fake: FakeBotAPI,
    past_store: Store,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks = 0
    check = reminder_module.remind

    async def counted(*args: Any, **kwargs: Any) -> list[str]:
        nonlocal checks
        found = await check(*args, **kwargs)
        checks += 1
        return found

    monkeypatch.setattr(reminder_module, "remind", counted)  # looked up by ``remind_every``
    old = await make_referral(past_store, 7801)  # created 25 hours ago
    fresh = await make_referral(store, 7802)
    card = await card_for(fake, old)
    reminder = await until(
        lambda: [m for m in team_messages(fake) if "⏰" in m.text], 10, "a reminder"
    )
    seen = checks
    await until(lambda: checks >= seen + 3, 10, "three more reminder checks")
    await until_sent(store)  # what those checks queued has gone out
    reminders = [m for m in team_messages(fake) if "⏰" in m.text]
    assert len(reminders) == 1 and reminder[0].message_id == reminders[0].message_id
    assert old in reminders[0].text and fresh not in reminders[0].text
    assert reminders[0].reply_to in (None, card.message_id)
    details = await store.referral(old)
    assert details is not None and details.reminded_at is not None
