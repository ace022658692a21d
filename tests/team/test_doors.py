"""Closing doors in the team chat: a removed coordinator loses access at once, and a patient's
button tapped outside a private chat runs no patient turn."""

from __future__ import annotations

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.storage import Store
from tests.fakebotapi import FakeBotAPI
from tests.running import TEAM_CHAT, RunningBot, settled
from tests.team.conftest import COORDINATOR, card_for, tap
from tests.team.helpers import make_referral
from tests.telegram.conftest import Person


async def test_a_removed_coordinator_is_refused_at_once(fake: FakeBotAPI) -> None:
    from bot.channels.telegram.team import Gatekeeper

    bot = Bot(fake.token, base_url=fake.base_url, request=HTTPXRequest())
    async with bot:
        gate = Gatekeeper(bot, TEAM_CHAT)
        assert await gate.refusal(COORDINATOR) is None
        fake.set_member(TEAM_CHAT, COORDINATOR, "left")  # removed from the team chat
        assert await gate.refusal(COORDINATOR) == "not_member"  # no minute of grace
        fake.set_member(TEAM_CHAT, COORDINATOR, "member")
        assert await gate.refusal(COORDINATOR) is None


async def test_a_removed_coordinator_cannot_press_a_card(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    ref = await make_referral(store, 7901)
    card = await card_for(fake, ref)
    fake.set_member(TEAM_CHAT, COORDINATOR, "kicked")
    tap(fake, COORDINATOR, card, f"r|{ref}|contacted")
    await settled(fake, store)
    details = await store.referral(ref)
    assert details is not None and details.status == "new"
    fake.set_member(TEAM_CHAT, COORDINATOR, "member")
    tap(fake, COORDINATOR, card, f"r|{ref}|contacted")
    await fake.wait_for_call("answerCallbackQuery")  # answered after the status is written
    details = await store.referral(ref)
    assert details is not None and details.status == "contacted"


async def test_a_patient_button_tapped_in_the_team_chat_runs_no_turn(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    ref = await make_referral(store, 7902)
    card = await card_for(fake, ref)
    person = Person(fake, 7903, "en")
    await person.command("/start")  # a patient's own private chat, at the consent question
    before = await store.answer_history("tg:7903")
    [data] = [d for _m, _label, d in person.buttons() if d.endswith("|agree")]
    tap(fake, 7903, card, data)  # the same button data, tapped in the group
    await settled(fake, store)
    assert await store.answer_history("tg:7903") == before
    assert [b[2] for b in person.buttons()].count(data) == 1  # still there, unanswered
    assert not [m for m in fake.messages(TEAM_CHAT) if m.message_id > card.message_id]
    async with store.turn("tg:7904") as turn:
        assert turn.is_new  # a stranger tapping there starts no conversation either
    tap(fake, 7904, card, data)
    await settled(fake, store)
    async with store.turn("tg:7904") as turn:
        assert turn.is_new
