"""Scripted referrals while the Bot API misbehaves: nothing lost, nothing shown twice.

``make test`` runs 100 referrals; ``make test-long`` runs 1,000 (marked ``slow``).

The fake Bot API injects, on a seeded fraction of calls, 429s with retry_after, 500s, 502s,
requests held and then dropped (timeouts), dropped connections, and getUpdates delivering
updates again. Patients are stored at the handoff question; each then types its six
answers (share, phone, name, skip the e-mail, best time, language).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from bot.channels.telegram.app import serve
from bot.config import Settings
from bot.engine.engine import load_engine
from bot.storage.commands import keygen, upgrade
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN, Patient
from tests.fakebotapi import FakeBotAPI, Fault
from tests.team.conftest import TEAM_CHAT, fast_options, until
from tests.team.test_burst import delivered

FIRST_USER = 20_000
ANSWERS = ("yes", "13800138000", "Li Lei", "skip", "morning", "English")


async def seed(store: Store, count: int) -> None:
    """Store conversations waiting at the question whether to share contact details."""
    patient = Patient(load_engine())
    patient.run(ELIGIBLE_EN)
    assert patient.conv.state == "share"
    record = patient.conv.to_json()
    for user in range(FIRST_USER, FIRST_USER + count):
        async with store.turn(f"tg:{user}", None) as turn:
            turn.save(record, chat_id=user)


async def test_a_hundred_referrals_under_injected_faults(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await run_referrals(tmp_path, caplog, 100)


@pytest.mark.slow
async def test_a_thousand_referrals_under_injected_faults(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await run_referrals(tmp_path, caplog, 1000)


async def run_referrals(tmp_path: Path, caplog: pytest.LogCaptureFixture, count: int) -> None:
    """``count`` patients hand over their details at once, under injected faults."""
    caplog.set_level(logging.ERROR)
    async with FakeBotAPI(seed=7, max_per_second=None) as fake:
        fake.add_group(TEAM_CHAT, "Study team", members=[501])
        settings = Settings(
            telegram_bot_token=fake.token,
            telegram_base_url=fake.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            data_encryption_key=keygen(),
            study_team_chat_id=TEAM_CHAT,
            flood_burst=1000,
            telegram_max_rate=10_000,
            _env_file=None,  # type: ignore[call-arg]
        )
        await upgrade(settings)
        store = await Store.open(settings)
        try:
            await seed(store, count)
        finally:
            await store.close()

        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, stop, fast_options()))
        await until(lambda: any(c.method == "getUpdates" for c in fake.calls), 30, "polling")

        faults = fake.faults
        runtime = {
            "sendMessage",
            "editMessageText",
            "answerCallbackQuery",
            "sendDocument",
            "getUpdates",
        }
        faults.add(Fault.RETRY_AFTER, 0.02, retry_after=1, methods=runtime)
        faults.add(Fault.SERVER_ERROR, 0.02, methods=runtime)
        faults.add(Fault.BAD_GATEWAY, 0.02, methods=runtime)
        faults.add(Fault.TIMEOUT, 0.005, hold=1.0, methods=runtime)
        faults.add(Fault.DROP, 0.01, methods=runtime)
        faults.add(Fault.DUPLICATE, 0.03)
        started = time.monotonic()
        try:
            for answer in ANSWERS:
                for user in range(FIRST_USER, FIRST_USER + count):
                    fake.user_sends(user, answer, first_name="Li Lei", language_code="en")
            await until(
                lambda: sum(delivered(fake).values()) >= count or task.done(),
                600,
                "every referral",
            )
            if task.done():
                task.result()
            await fake.wait_idle(quiet=1.0, timeout=120)
        finally:
            injected = dict(faults.injected)
            faults.clear()
            stop.set()
            await asyncio.wait_for(task, 60)
        took = time.monotonic() - started

        store = await Store.open(settings)
        try:
            referrals = await store.referrals()
            counts = await store.outbox_counts()
        finally:
            await store.close()
        seen = delivered(fake)
        print(
            f"\n{count} referrals under faults in {took:.0f} s: injected {injected}, "
            f"{len(fake.messages(TEAM_CHAT))} team messages, outbox {counts}"
        )
        assert len(referrals) == count  # no lost handoff
        assert set(seen) == {r.ref_code for r in referrals}  # every one reached the team
        assert sum(seen.values()) == count  # none shown twice
        assert fake.flood_errors == 0
        assert all(
            faults.injected[kind] > 0
            for kind in ("retry_after", "server_error", "bad_gateway", "drop", "duplicate")
        )
        unhandled = [
            r for r in caplog.records if r.levelno >= logging.ERROR and "failed" in r.getMessage()
        ]
        assert unhandled == []
