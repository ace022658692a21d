"""PostgreSQL: the round trips of a turn, fixed, so none can be added unnoticed.

A usual turn (a tap, a typed answer, the first message) is two round trips before its reply
can be sent: the read (lock, duplicate check, conversation) and one statement that writes and
commits. A third, after the commit, lets go of the person's lock while the replies go out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.storage import Store
from tests.storage.conftest import _TABLES, Clock, pg_admin, pg_fetch, record
from tests.storage.wire import RoundTrips


@pytest.fixture
async def pg_url(pg_session_db: str) -> str:
    await pg_admin(pg_session_db, *(f"DELETE FROM {table}" for table in _TABLES))
    return pg_session_db


@pytest.fixture
async def pg_store(pg_url: str, key: str, clock: Clock) -> AsyncIterator[Store]:
    from bot.config import Settings

    store = await Store.open(
        Settings(database_url=pg_url, data_encryption_key=key, _env_file=None), clock=clock
    )
    try:
        yield store
    finally:
        await store.close()


async def _handoff(store: Store, user_key: str, update_id: int) -> str:
    async with store.turn(user_key, update_id) as turn:
        turn.save(record("done"), status="finished")
        turn.add_answer("best_time", "morning")
        turn.add_consent("contact_sharing", True, "I agree ...", "en")
        turn.set_outcome("likely_eligible", flow_id="nct06751199", protocol_version="2025-06")
        turn.save_contact(name="Li Lei", phone="+8613800000000")
        code = turn.create_referral("likely_eligible")
        turn.enqueue("team_card", code, {"ref": code})
    return code


async def _warmed(store: Store) -> RoundTrips:
    """Count from now on, once the connection has prepared every statement and asked the
    server about the types they use (asyncpg does both once per connection)."""
    trips = RoundTrips(store)
    async with store.turn("tg:0", 1000) as turn:
        turn.save(record("consent"), chat_id=1)
        turn.add_answer("consent", "yes")
    async with store.turn("tg:0", 1001) as turn:
        turn.save(record("age"))
        turn.add_answer("age", "55", raw="55 years")
    await _handoff(store, "tg:0", 1002)
    await trips.settled()
    return trips


async def test_usual_turns_are_two_round_trips_before_the_reply(pg_store: Store) -> None:
    trips = await _warmed(pg_store)
    async with pg_store.turn("tg:1", 1) as turn:  # the first message: a new conversation
        assert turn.is_new
        turn.save(record("consent"), chat_id=1)
    assert (trips.take(), await trips.settled()) == (2, 1)

    async with pg_store.turn("tg:1", 2) as turn:  # a tap
        turn.save(record("age"))
        turn.add_answer("consent", "yes")
    assert (trips.take(), await trips.settled()) == (2, 1)

    async with pg_store.turn("tg:1", 3) as turn:  # a typed answer, changing an earlier one
        turn.save(record("weight"))
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
        turn.add_answer("age", "55", raw="55 years")
    assert (trips.take(), await trips.settled()) == (2, 1)

    async with pg_store.turn("tg:1", 3) as turn:  # delivered again
        assert turn.duplicate
    assert (trips.take(), await trips.settled()) == (1, 1)

    async with pg_store.turn("tg:1", 4) as turn:  # an update that changes nothing (/help)
        assert not turn.duplicate
    assert (trips.take(), await trips.settled()) == (2, 1)

    history = await pg_store.answer_history("tg:1")
    assert [(a.fact, a.value, a.raw) for a in history] == [
        ("consent", "yes", ""),
        ("weight", "65.0", "130斤"),
        ("age", "55", "55 years"),
    ]
    url = pg_store.database.url.render_as_string(hide_password=False)
    marked = await pg_fetch(url, "SELECT update_id FROM processed_updates WHERE update_id < 1000")
    assert sorted(r[0] for r in marked) == [1, 2, 3, 4]


async def test_the_handoff_turn_writes_in_one_transaction(pg_store: Store) -> None:
    trips = await _warmed(pg_store)
    async with pg_store.turn("tg:2", 1) as turn:
        turn.save(record("contact"), chat_id=2)
    await trips.settled()
    code = await _handoff(pg_store, "tg:2", 2)
    # the read; BEGIN; save + answers + mark; outcome; consent; contact; referral; its history;
    # outbox; COMMIT (the end of a screening: once per patient). After the reply: let go of the
    # lock (1), and tell the other processes' outbox workers (BEGIN, NOTIFY, COMMIT: 3)
    assert (trips.take(), await trips.settled()) == (10, 4)
    details = await pg_store.referral(code)
    assert details is not None and details.status == "new"


async def test_a_turn_waiting_for_the_lock_reads_what_the_holder_committed(
    pg_store: Store, pg_url: str, key: str, clock: Clock
) -> None:
    """Another process creates the conversation while this one waits for the person's lock:
    the read, made after the lock is granted, sees it (a new conversation is not made twice)."""
    from bot.config import Settings

    other = await Store.open(
        Settings(database_url=pg_url, data_encryption_key=key, _env_file=None), clock=clock
    )
    try:
        holding, finish = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with other.turn("tg:3", 1) as turn:
                assert turn.is_new
                holding.set()
                await finish.wait()
                turn.save(record("age", count=1), chat_id=3)
                turn.add_answer("consent", "yes")

        async def second() -> None:
            await holding.wait()
            async with pg_store.turn("tg:3", 2) as turn:
                assert not turn.is_new and turn.record is not None
                turn.save(record("weight", count=turn.record["count"] + 1))
                turn.add_answer("age", "54")

        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await _until_a_lock_is_awaited(pg_url)
        finish.set()
        await asyncio.gather(*tasks)
    finally:
        await other.close()
    async with pg_store.turn("tg:3") as turn:
        assert turn.record is not None and turn.record["count"] == 2
    assert [a.fact for a in await pg_store.answer_history("tg:3")] == ["consent", "age"]


async def _until_a_lock_is_awaited(url: str, deadline: float = 10.0) -> None:
    """Wait (polling the server, with a deadline) until a session waits for an advisory lock."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    while (await pg_fetch(url, query))[0][0] == 0:
        assert loop.time() < end, "the second turn never waited for the lock"
        await asyncio.sleep(0.01)
