"""The outbox: at-least-once delivery, one worker per row."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from bot.storage import Store
from tests.storage.conftest import Clock, OpenStore, record


async def fill(store: Store, count: int) -> None:
    for i in range(count):
        assert await store.enqueue("referral_card", f"CZ-TEST-{i:04d}", {"n": i})


async def test_two_concurrent_claimers_never_claim_the_same_row(
    store: Store, open_store: OpenStore
) -> None:
    await fill(store, 60)
    other = await open_store()  # a second process: its own engine and connections
    claimed: Counter[int] = Counter()
    by_worker: dict[str, set[int]] = {"a": set(), "b": set()}

    async def worker(name: str, st: Store) -> None:
        while True:
            items = await st.claim_outbox(name, 3)
            if not items:
                return
            for item in items:
                claimed[item.id] += 1
                by_worker[name].add(item.id)
            await asyncio.sleep(0)

    await asyncio.gather(worker("a", store), worker("b", other), worker("a", store))
    assert len(claimed) == 60
    assert set(claimed.values()) == {1}  # each row claimed exactly once
    assert not by_worker["a"] & by_worker["b"]


async def test_a_row_locked_by_one_worker_is_skipped_by_another(
    backend: str, db_url: str, store: Store
) -> None:
    """FOR UPDATE SKIP LOCKED: a claimer does not wait for rows another transaction holds."""
    await fill(store, 4)
    if backend != "postgresql":
        return  # SQLite has one writer at a time: nothing to skip
    import asyncpg

    from tests.storage.conftest import _connect_args

    holder = await asyncpg.connect(**_connect_args(db_url))
    try:
        tx = holder.transaction()
        await tx.start()
        ids = [r[0] for r in await holder.fetch("SELECT id FROM outbox ORDER BY id")]
        await holder.fetch("SELECT id FROM outbox WHERE id = ANY($1) FOR UPDATE", ids[:2])
        items = await asyncio.wait_for(store.claim_outbox("b", 10), timeout=5)
        assert [i.id for i in items] == ids[2:]
        await tx.rollback()
    finally:
        await holder.close()


async def test_delivery_lifecycle(store: Store, clock: Clock) -> None:
    assert await store.enqueue("referral_card", "CZ-AAAA-0001", {"ref": "CZ-AAAA-0001"})
    assert not await store.enqueue("referral_card", "CZ-AAAA-0001", {"ref": "again"})  # deduped

    [item] = await store.claim_outbox("w1", 10)
    assert item.payload == {"ref": "CZ-AAAA-0001"} and item.attempts == 1
    assert await store.claim_outbox("w2", 10) == []  # claimed

    retry_at = clock.now + timedelta(seconds=30)
    assert await store.mark_failed(item.id, "w1", retry_at, error="HTTP 429")
    assert await store.claim_outbox("w2", 10) == []  # not yet due
    clock.advance(seconds=31)
    [again] = await store.claim_outbox("w2", 10)
    assert again.id == item.id and again.attempts == 2

    clock.advance(minutes=6)  # w2's lease ran out (it crashed): someone else takes it
    [third] = await store.claim_outbox("w3", 10)
    assert third.attempts == 3
    assert not await store.mark_sent(item.id, "w2")  # w2 lost its claim
    assert await store.mark_sent(item.id, "w3")
    assert await store.claim_outbox("w4", 10) == []
    assert await store.outbox_counts() == {"sent": 1}


async def test_claims_of_a_gone_worker_are_given_back_due_as_before(store: Store) -> None:
    await fill(store, 3)
    [dead] = await store.claim_outbox("dead", 1)
    [live] = await store.claim_outbox("live", 1)
    assert await store.release_claims(lambda worker: worker == "dead") == 1
    again = await store.claim_outbox("next", 10)
    assert dead.id in {i.id for i in again} and live.id not in {i.id for i in again}
    assert not await store.mark_sent(dead.id, "dead")  # its claim is gone
    assert await store.mark_sent(live.id, "live")


async def test_an_item_given_up_is_not_claimed_again(store: Store, clock: Clock) -> None:
    await store.enqueue("email", "mail-1", {})
    [item] = await store.claim_outbox("w", 1)
    assert await store.mark_failed(item.id, "w", clock.now, error="550", give_up=True)
    assert await store.claim_outbox("w", 1) == []
    assert await store.outbox_counts() == {"failed": 1}


async def test_enqueue_in_a_turn_is_part_of_its_transaction(store: Store) -> None:
    async with store.turn("tg:77", 1) as turn:
        turn.save(record())
        code = turn.create_referral("likely_eligible")
        turn.enqueue("referral_card", code, {"ref": code})
        turn.enqueue("referral_card", code, {"ref": code})  # the same key twice: one row
    items = await store.claim_outbox("w", 10)
    assert [(i.dedupe_key, i.user_hash) for i in items] == [(code, store.user_hash("tg:77"))]
    assert items[0].chat_id is None  # saved without a chat id


async def test_claims_can_be_limited_to_kinds(store: Store) -> None:
    await store.enqueue("email", "e1", {})
    await store.enqueue("referral_card", "c1", {})
    items = await store.claim_outbox("w", 10, kinds=["referral_card"])
    assert [i.kind for i in items] == ["referral_card"]


async def test_enqueue_for_a_person_links_the_row(store: Store) -> None:
    async with store.turn("tg:78", 1) as turn:
        turn.save(record(), chat_id=78)
    await store.enqueue("ack_notice", "ack-1", {"x": 1}, user_key="tg:78")
    await store.enqueue("digest", "digest-1", {"x": 2}, user_key="tg:nobody")
    items = await store.claim_outbox("w", 10)
    assert [(i.user_hash, i.chat_id) for i in items] == [
        (store.user_hash("tg:78"), 78),
        (None, None),
    ]
