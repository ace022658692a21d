"""Retention: purge removes abandoned conversations past RETENTION_DAYS and keeps the rest."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.storage import Store, commands
from tests.storage.conftest import Clock, record


async def test_purge_removes_abandoned_conversations_past_retention(
    store: Store, clock: Clock
) -> None:
    async def conversation(user: int, status: str, *, referral: bool = False) -> None:
        async with store.turn(f"tg:{user}", user) as turn:
            turn.save(record(), status=status)
            turn.add_answer("age", "50")
            turn.add_consent("health_processing", True, "...", "en")
            if referral:
                turn.save_contact(name="张三", phone="+8613700000000")
                turn.create_referral("likely_eligible")

    await conversation(1, "abandoned")
    await conversation(2, "active")  # left half-way: abandoned in all but name
    await conversation(3, "finished")
    await conversation(4, "abandoned", referral=True)  # the study team still needs it
    clock.advance(days=25)
    await conversation(5, "abandoned")  # too recent
    clock.advance(days=6)  # 1-4 are now 31 days old, 5 is 6 days old
    async with store.turn("tg:6", 6):
        pass  # marks update 6 processed today

    counts = await store.purge(clock.now, retention_days=30)
    # finished without a referral (3) goes after RETENTION_DAYS too, when no other period is set
    assert counts["conversations"] == 3
    assert counts["answers"] == 3 and counts["consents"] == 3
    assert counts["processed_updates"] == 5  # all but update 6

    assert len(await store.funnel()) == 2
    for user, exists in ((1, False), (2, False), (3, False), (4, True), (5, True)):
        async with store.turn(f"tg:{user}") as turn:
            assert turn.is_new is not exists, user
    audit = [a for a in await store.recent_audit() if a.action == "purge"]
    assert audit and audit[0].detail["rows"]["conversations"] == 3

    # Referrals are kept while no REFERRAL_RETENTION_DAYS is set.
    more = await store.purge(clock.now + timedelta(days=400), retention_days=30, finished_days=365)
    assert more["conversations"] == 1  # 5 (abandoned); 4 has a referral


async def test_purge_command_uses_retention_days(settings: Settings, clock: Clock) -> None:
    clock.now = datetime(2020, 1, 1, tzinfo=UTC)  # long ago: the command purges "now"
    store = await Store.open(settings, clock=clock)
    try:
        async with store.turn("tg:1", 1) as turn:
            turn.save(record(), status="abandoned")
    finally:
        await store.close()
    counts = await commands.purge(settings.model_copy(update={"retention_days": 1}))
    assert counts["conversations"] == 1


async def test_purge_keeps_pending_outbox_items(store: Store, clock: Clock) -> None:
    await store.enqueue("email", "old-sent", {})
    await store.enqueue("email", "old-pending", {})
    [sent, _pending] = await store.claim_outbox("w", 2)
    await store.mark_sent(sent.id, "w")
    clock.advance(days=40)
    counts = await store.purge(clock.now, retention_days=30)
    assert counts["outbox"] == 1
    assert await store.outbox_counts() == {"pending": 1}


async def test_the_running_bot_purges_daily(store: Store) -> None:
    import asyncio

    from bot.storage.retention import purge_daily

    async def runs() -> int:
        return sum(a.action == "purge" for a in await store.recent_audit())

    task = asyncio.create_task(purge_daily(store, 30, every=timedelta(seconds=0.01)))
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while await runs() < 2:  # a purge now, and another one period later
            assert not task.done(), task.exception()
            assert asyncio.get_running_loop().time() < deadline, "the purge did not repeat"
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _finished(store: Store, user: int, *, referral: bool) -> str | None:
    async with store.turn(f"tg:{user}", user) as turn:
        turn.save(record("done"), status="finished")
        turn.add_answer("hiv", "yes")
        code = None
        if referral:
            turn.save_contact(name="张三", phone="+8613700000000")
            code = turn.create_referral("likely_eligible")
    return code


async def test_finished_and_referral_retention_come_from_the_settings(
    settings: Settings, clock: Clock
) -> None:
    clock.now = datetime(2020, 1, 1, tzinfo=UTC)  # long ago: the command purges "now"
    store = await Store.open(settings, clock=clock)
    try:
        await _finished(store, 1, referral=False)  # ineligible or declined
        code = await _finished(store, 2, referral=True)
        assert code is not None
        await store.set_card_message(code, 4242)
    finally:
        await store.close()
    # A finished screening was kept for ever before; now FINISHED_RETENTION_DAYS applies,
    # and referrals stay while REFERRAL_RETENTION_DAYS is unset.
    keep_referrals = settings.model_copy(update={"retention_days": 3650})
    counts = await commands.purge(keep_referrals.model_copy(update={"finished_retention_days": 30}))
    assert counts["conversations"] == 1 and counts["answers"] == 1
    counts = await commands.purge(keep_referrals)
    assert counts["conversations"] == 0
    expire = {"referral_retention_days": 365}
    counts = await commands.purge(keep_referrals.model_copy(update=expire))
    assert counts["conversations"] == 1 and counts["referrals"] == 1 and counts["contacts"] == 1
    store = await Store.open(settings)
    try:
        assert await store.funnel() == []
        # the team-chat card of the purged referral is redacted through the outbox
        [item] = await store.claim_outbox("w", 10)
        assert item.kind == "card_redaction" and item.user_hash is None
        assert item.payload == {"ref": code, "message_id": 4242, "reason": "expired"}
    finally:
        await store.close()


def test_retention_from_settings() -> None:
    from bot.storage.retention import Retention

    s = Settings(_env_file=None, retention_days=10, referral_retention_days=400)
    assert Retention.from_settings(s) == Retention(10, None, 400)
