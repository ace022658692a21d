"""A burst of 500 referrals under injected 429s: all delivered, once, and no flood error."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
import time
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.storage import Store
from bot.team import REFERRAL_CARD
from tests.fakebotapi import FakeBotAPI, Fault
from tests.running import RunningBot
from tests.team.conftest import card_refs, fast_options, team_messages, until
from tests.team.helpers import make_referral

BURST = 500


def delivered(fake: FakeBotAPI) -> Counter[str]:
    """Reference codes delivered to the team chat: one per card, one per digest CSV row."""
    seen: Counter[str] = Counter()
    for message in team_messages(fake):
        refs = card_refs(message)
        if len(refs) == 1:
            seen.update(refs)
        if message.document is not None:
            rows = csv.DictReader(io.StringIO(message.document.data.decode("utf-8-sig")))
            seen.update(row["ref"] for row in rows)
    return seen


async def test_a_burst_of_500_referrals_under_429s(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store
) -> None:
    fake.faults.add(Fault.RETRY_AFTER, 0.5, methods={"sendMessage", "sendDocument"})
    started = time.monotonic()
    refs = [await make_referral(store, 9000, name="一")]
    await until(lambda: delivered(fake), 10, "the first card")  # a quiet moment: one card
    for n in range(1, BURST):
        refs.append(await make_referral(store, 9000 + n, name=f"病人{n}"))
    made = time.monotonic() - started

    await until(lambda: sum(delivered(fake).values()) >= BURST, 60, "every referral")
    await fake.wait_idle(quiet=0.5, timeout=30)
    took = time.monotonic() - started
    seen = delivered(fake)
    sent = team_messages(fake)
    print(
        f"\nburst: {BURST} referrals made in {made:.1f} s, all delivered in {took:.1f} s, "
        f"{len(sent)} team messages, {fake.faults.injected['retry_after']} injected 429s, "
        f"{fake.flood_errors} flood errors"
    )
    assert set(seen) == set(refs)
    assert sum(seen.values()) == BURST  # no referral shown twice
    assert fake.flood_errors == 0  # within the group limit all along
    assert fake.faults.injected["retry_after"] > 0  # and the 429s did happen
    assert len(sent) <= 18  # cards before the burst, then one digest card and one CSV
    digest = [m for m in sent if m.text.count("CZ-") > 20]
    assert len(digest) >= 1
    counts = await store.outbox_counts()
    assert counts.get("failed", 0) == 0 and counts.get("pending", 0) == 0


def held_cards(settings: Settings) -> int:
    """Cards a worker has claimed and not yet delivered (read from the bot's SQLite file)."""
    path = make_url(settings.database_url).database
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        query = (
            "SELECT count(*) FROM outbox WHERE kind = ? AND status = 'pending'"
            " AND claimed_by IS NOT NULL"
        )
        return int(db.execute(query, (REFERRAL_CARD,)).fetchone()[0])


# The burst waits 3 s to gather, so the stop below surely comes while the cards are held.
@pytest.mark.parametrize(
    "options", [replace(fast_options(), worker=replace(fast_options().worker, digest_gather=3.0))]
)
async def test_a_stop_in_the_middle_of_a_burst_loses_nothing(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store, settings: Settings
) -> None:
    refs = [await make_referral(store, 9600 + n) for n in range(40)]
    # the worker holds claimed cards: it is gathering the burst, or sending
    await until(lambda: held_cards(settings), 30, "the worker to claim cards")
    await team_bot.stop()
    assert held_cards(settings) == 0  # a clean stop gives its cards back
    refs += [await make_referral(store, 9700 + n) for n in range(5)]  # while it is down
    await team_bot.start()
    await until(lambda: sum(delivered(fake).values()) >= len(refs), 30, "every referral")
    await fake.wait_idle(quiet=0.5, timeout=30)
    seen = delivered(fake)
    assert set(seen) == set(refs) and sum(seen.values()) == len(refs)
    assert fake.flood_errors == 0
