"""A turn: load, save, answers, duplicates, order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.engine.record import Answer, Conversation
from bot.storage import Store, db
from bot.storage.backends.postgres import PostgresBackend
from tests.storage.conftest import Clock, OpenStore, record


async def test_a_turn_round_trips_the_record(store: Store) -> None:
    conv = Conversation(flow_id="nct06751199", flow_version="2025-06", lang="zh-Hant", state="age")
    conv.answers["weight"] = Answer(value="65.0", raw="130斤", unit="jin")
    conv.history.append("weight")
    conv.source = "flyer-2025"

    async with store.turn("tg:501", 1) as turn:
        assert not turn.duplicate
        assert turn.is_new and turn.record is None
        turn.save(conv.to_json(), chat_id=501)

    async with store.turn("tg:501", 2) as turn:
        assert not turn.is_new
        assert turn.status == "active"
        assert turn.record is not None
        assert Conversation.from_json(turn.record) == conv
        turn.save({**turn.record, "state": "done"}, status="finished")

    async with store.turn("tg:501") as turn:
        assert turn.record is not None and turn.record["state"] == "done"
        assert turn.status == "finished"
    assert await store.find_chat("tg:501") == 501
    assert await store.find_chat("tg:502") is None
    rows = await store.funnel()
    assert [(r.lang, r.source, r.status) for r in rows] == [("zh-Hant", "flyer-2025", "finished")]


async def test_a_duplicate_update_is_detected_and_changes_nothing(store: Store) -> None:
    async with store.turn("tg:7", 100) as turn:
        turn.save(record("q1"), chat_id=7)
        turn.add_answer("age", "54")

    async with store.turn("tg:7", 100) as turn:
        assert turn.duplicate
        assert turn.record is None
        with pytest.raises(RuntimeError):
            turn.save(record("q2"))
        with pytest.raises(RuntimeError):
            turn.add_answer("age", "99")

    async with store.turn("tg:7", 101) as turn:
        assert not turn.duplicate
        assert turn.record == record("q1")
    assert [a.value for a in await store.answer_history("tg:7")] == ["54"]


async def test_a_failed_turn_writes_nothing_and_the_update_can_be_retried(store: Store) -> None:
    async with store.turn("tg:8", 1) as turn:
        turn.save(record("q1"))

    with pytest.raises(ZeroDivisionError):
        async with store.turn("tg:8", 2) as turn:
            turn.save(record("q2"))
            turn.add_answer("age", "54")
            _ = 1 / 0

    async with store.turn("tg:8", 2) as turn:  # re-delivered: not a duplicate
        assert not turn.duplicate
        assert turn.record == record("q1")
    assert await store.answer_history("tg:8") == []


async def test_answers_are_kept_as_history_with_their_times(store: Store, clock: Clock) -> None:
    first = clock.now
    async with store.turn("tg:9", 1) as turn:
        turn.save(record("weight"))
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
    clock.advance(minutes=3)
    async with store.turn("tg:9", 2) as turn:
        assert turn.record is not None
        turn.save(turn.record)
        turn.add_answer("weight", "66.0", raw="66 kg", unit="kg")  # changed answer
        turn.add_answer("hba1c", "unknown")

    history = await store.answer_history("tg:9")
    assert [(a.fact, a.value, a.raw, a.unit, a.answered_at) for a in history] == [
        ("weight", "65.0", "130斤", "jin", first),
        ("weight", "66.0", "66 kg", "kg", first + timedelta(minutes=3)),
        ("hba1c", "unknown", "", "", first + timedelta(minutes=3)),
    ]


async def test_a_new_conversation_must_be_saved_before_anything_is_added(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.turn("tg:10", 1) as turn:
            turn.add_answer("age", "54")
    async with store.turn("tg:10", 1) as turn:
        assert not turn.duplicate  # the failed turn did not mark the update


async def test_turns_of_one_person_run_in_order(
    backend: str, store: Store, open_store: OpenStore
) -> None:
    """Concurrent updates for one person never lose a write, within one process and, on
    PostgreSQL, across processes (two stores, two connection pools)."""
    async with store.turn("tg:11", 0) as turn:
        turn.save(record(count=0))
    stores = [store, await open_store()] if backend == "postgresql" else [store]

    async def bump(i: int) -> None:
        async with stores[i % len(stores)].turn("tg:11", i + 1) as turn:
            assert turn.record is not None
            count = turn.record["count"]
            await asyncio.sleep(0.001)  # the engine "thinks" while others wait
            turn.save(record(count=count + 1))
            turn.add_answer("n", str(count + 1))

    await asyncio.gather(*(bump(i) for i in range(20)))
    async with store.turn("tg:11") as turn:
        assert turn.record is not None and turn.record["count"] == 20
    values = [int(a.value) for a in await store.answer_history("tg:11")]
    assert values == list(range(1, 21))


async def test_more_people_at_once_than_connections_are_all_served(store: Store) -> None:
    """Ten people per pooled connection, five answers each, all at once: every turn commits.
    On PostgreSQL the pool's own wait is cut to half a second: nobody may ever wait there
    (turns queue first come, first served in front of it), or the slowest waiter would run
    out of time and a patient's answer would be lost."""
    backend = store.database.backend
    if isinstance(backend, PostgresBackend):
        backend.engine.pool._timeout = 0.5  # type: ignore[attr-defined]
    people, answers = 10 * db.PG_MAX_CONNECTIONS, 5

    async def person(i: int) -> None:
        for n in range(answers):
            async with store.turn(f"tg:{7000 + i}", 100_000 + i * answers + n) as turn:
                await asyncio.sleep(0.002)  # the engine "thinks" while holding the turn
                turn.save(record(count=n + 1), chat_id=7000 + i)
                turn.add_answer("n", str(n + 1))

    await asyncio.gather(*(person(i) for i in range(people)))
    for i in (0, people // 2, people - 1):
        async with store.turn(f"tg:{7000 + i}") as turn:
            assert turn.record is not None and turn.record["count"] == answers
        history = await store.answer_history(f"tg:{7000 + i}")
        assert [a.value for a in history] == [str(n + 1) for n in range(answers)]


async def test_consents_outcomes_alerts_are_stored(store: Store) -> None:
    async with store.turn("tg:13", 1) as turn:
        turn.save(record())
        turn.add_consent("health_processing", True, "I agree that ...", "en")
        turn.set_outcome(
            "likely_ineligible",
            failed=["bmi_range"],
            unknown=["c_peptide"],
            flow_id="nct06751199",
            protocol_version="2025-06",
        )
        turn.opt_in_alerts("en")
    rows = await store.funnel()
    assert [(r.consented, r.outcome, r.referral_status) for r in rows] == [
        (True, "likely_ineligible", None)
    ]
    async with store.turn("tg:13", 2) as turn:
        turn.opt_out_alerts()
        turn.add_consent("trial_alerts", False, "Tell me about ...", "en")


async def test_an_outcome_with_the_real_flows_protocol_text_commits(store: Store) -> None:
    from bot.engine.engine import load_engine

    protocol = load_engine().flow.protocol
    async with store.turn("tg:14", 1) as turn:
        turn.save(record())
        turn.set_outcome("likely_eligible", flow_id="nct06751199", protocol_version=protocol)
    rows = await store.funnel()
    assert [r.outcome for r in rows] == ["likely_eligible"]


async def test_sqlite_checkpoints_run_in_the_background(
    backend: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        return
    from bot.storage.backends import sqlite

    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY", 5)
    b = store.database.backend
    assert isinstance(b, sqlite.SqliteBackend) and b.raw is not None
    assert b.raw.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    for i in range(12):
        async with store.turn(f"tg:{i}", i) as turn:
            turn.save(record())
    assert b.pending_checkpoint is not None
    b.pending_checkpoint.result(timeout=10)
    assert b.checkpoint_conn is not None
    busy, frames, done = b.checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == done  # everything written so far is in the main file
