"""Referrals: codes, cards, statuses with history and audit, reminders, export."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.storage import ReferralNotFoundError, StaleStatusError, Store
from bot.storage.erasure import DIGEST_REDACTION
from bot.storage.models import OPEN_REFERRAL_STATUSES
from tests.storage.conftest import Clock, record


async def refer(store: Store, user: int, update_id: int) -> str:
    async with store.turn(f"tg:{user}", update_id) as turn:
        turn.save(record("done", source="qr-ward-3"), status="finished", chat_id=user)
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
        turn.add_answer("bmi", "25.4")
        turn.set_outcome(
            "needs_review",
            failed=[],
            unknown=["c_peptide"],
            flow_id="nct06751199",
            protocol_version="2025-06",
        )
        turn.save_contact(name="王芳", phone="+8613900000000", call_lang="zh-Hans")
        return turn.create_referral("needs_review")


async def test_a_referral_carries_everything_the_card_needs(store: Store, clock: Clock) -> None:
    code = await refer(store, 21, 1)
    assert re.fullmatch(r"CZ-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
    details = await store.referral(code)
    assert details is not None
    assert (details.status, details.outcome, details.attempts) == ("new", "needs_review", 0)
    assert (details.lang, details.source, details.chat_id) == ("zh-Hans", "qr-ward-3", 21)
    assert details.created_at == clock.now and details.acknowledged_at is None
    assert details.decision is not None
    assert details.decision.protocol_version == "2025-06"
    assert details.decision.unknown == ["c_peptide"]
    assert details.answers["weight"].raw == "130斤" and details.answers["bmi"].value == "25.4"
    assert details.contact is not None and details.contact.name == "王芳"
    assert await store.referral("CZ-NONE-0000") is None


async def test_status_changes_keep_history_and_audit(store: Store, clock: Clock) -> None:
    code = await refer(store, 22, 1)
    await store.set_card_message(code, 777)
    clock.advance(hours=1)
    change = await store.set_referral_status(code, "contacted", "tg:9001", expected="new")
    assert (change.old, change.new, change.first_acknowledgement) == ("new", "contacted", True)
    acknowledged_at = change.at
    with pytest.raises(StaleStatusError):  # a second coordinator saw the old card
        await store.set_referral_status(code, "screen_failed", "tg:9002", expected="new")
    assert await store.record_contact_attempt(code, "tg:9001") == 1
    assert await store.record_contact_attempt(code, "tg:9001") == 2
    change = await store.set_referral_status(code, "visit_scheduled", "tg:9001")
    assert not change.first_acknowledgement
    with pytest.raises(ValueError):
        await store.set_referral_status(code, "lost", "tg:9001")
    with pytest.raises(ReferralNotFoundError):
        await store.set_referral_status("CZ-NONE-0000", "contacted", "tg:9001")

    details = await store.referral(code)
    assert details is not None
    assert (details.status, details.attempts, details.card_message_id) == (
        "visit_scheduled",
        2,
        777,
    )
    assert details.acknowledged_at == acknowledged_at == clock.now
    audit = await store.recent_audit()
    moves = [
        (a.action, a.subject, a.detail) for a in reversed(audit) if a.action == "referral_status"
    ]
    assert moves == [
        ("referral_status", code, {"from": "new", "to": "contacted"}),
        ("referral_status", code, {"from": "contacted", "to": "visit_scheduled"}),
    ]
    actor = store.user_hash("tg:9001")
    assert all(a.actor_hash == actor for a in audit if a.action != "erase_person")
    assert all("9001" not in str(a) for a in audit)


async def test_open_referrals_export_and_reminders(store: Store, clock: Clock) -> None:
    first = await refer(store, 31, 1)
    clock.advance(hours=5)
    second = await refer(store, 32, 2)
    clock.advance(hours=20)  # first is 25 h old, second 20 h
    assert await store.referrals_to_remind(24) == [first]
    await store.mark_reminded([first])
    assert await store.referrals_to_remind(24) == []
    clock.advance(hours=5)  # second unacknowledged 25 h; first reminded 5 h ago
    assert await store.referrals_to_remind(24) == [second]
    assert await store.acknowledge(second, "tg:9001")
    assert not await store.acknowledge(second, "tg:9001")
    assert await store.referrals_to_remind(24) == []

    for status in ("contacted", "visit_scheduled", "enrolled"):  # the workflow, step by step
        await store.set_referral_status(first, status, "tg:9001")
    assert [r.ref_code for r in await store.referrals(OPEN_REFERRAL_STATUSES)] == [second]
    assert [r.ref_code for r in await store.referrals()] == [first, second]
    funnel = await store.funnel()
    assert sorted((r.outcome, r.referral_status) for r in funnel) == [
        ("needs_review", "enrolled"),
        ("needs_review", "new"),
    ]


async def test_erasing_a_referral_of_a_burst_csv_queues_the_file_s_replacement(
    store: Store,
) -> None:
    codes = [await refer(store, 31 + n, 10 + n) for n in range(3)]
    assert await store.set_digest_message(codes, 7001) == 3
    assert [d.ref_code for d in await store.referrals_in_digest(7001)] == codes
    await store.set_digest_message(["CZ-NONE-0000"], 7002)  # not a referral: nothing set
    assert await store.referrals_in_digest(7002) == []

    await store.erase_person("tg:32")
    left = await store.referrals_in_digest(7001)
    assert [d.ref_code for d in left] == [codes[0], codes[2]]
    items = await store.claim_outbox("w", 10, kinds=[DIGEST_REDACTION])
    assert [(i.kind, i.payload) for i in items] == [
        (DIGEST_REDACTION, {"message_id": 7001, "reason": "erased"})
    ]
    assert codes[1] not in str(items[0].payload)  # the erased code is not kept in the item
    await store.erase_person("tg:31")  # a second erasure of the same file: its own item
    again = await store.claim_outbox("w", 10, kinds=[DIGEST_REDACTION])
    assert [i.payload["message_id"] for i in again] == [7001]
    await store.erase_person("tg:31")  # nobody left to erase: nothing queued
    assert await store.claim_outbox("w", 10, kinds=[DIGEST_REDACTION]) == []


async def test_the_end_of_retention_replaces_a_burst_csv_too(store: Store, clock: Clock) -> None:
    codes = [await refer(store, 41 + n, 20 + n) for n in range(2)]
    await store.set_digest_message(codes, 7003)
    clock.now += timedelta(days=400)
    await store.purge(clock.now, 30, referral_days=365)
    assert await store.referrals_in_digest(7003) == []
    items = await store.claim_outbox("w", 10, kinds=[DIGEST_REDACTION])
    assert [i.payload for i in items] == [{"message_id": 7003, "reason": "expired"}]
