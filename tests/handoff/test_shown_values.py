"""Cards and the CSV show a bound with its sign and a bare number's assumed unit."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.handoff.cards import TeamTexts
from bot.handoff.export import referrals_csv
from bot.storage import Store, commands
from bot.storage.store import ReferralDetails
from tests.handoff.helpers import make_referral


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shown.db'}",
        data_encryption_key=commands.keygen(),
        _env_file=None,  # type: ignore[call-arg]
    )
    await commands.upgrade(settings)
    opened = await Store.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


async def _details(store: Store, user_id: int, **changes: tuple[str, str, str]) -> ReferralDetails:
    """A referral whose stored answers are changed to (value, words, unit) as given."""
    ref = await make_referral(store, user_id, lang="en")
    details = await store.referral(ref)
    assert details is not None
    answers = dict(details.answers)
    for fact, (value, raw, unit) in changes.items():
        answers[fact] = replace(answers[fact], value=value, raw=raw, unit=unit)
    return replace(details, answers=answers)


async def test_a_card_shows_a_bound_with_its_sign_and_judges_it_as_a_range(store: Store) -> None:
    details = await _details(
        store,
        1,
        c_peptide_fasting=("<0.3", "less than 0.3 nmol/L", "nmol_l"),
        hba1c=(">7", ">7%", "percent"),
    )
    card = TeamTexts("en").card(details)
    assert "<0.3 nmol/L (less than 0.3 nmol/L)" in card.plain
    assert ">7% (>7%)" not in card.plain and ">7%" in card.plain  # the same words: shown once
    assert "&lt;0.3 nmol/L" in card.html
    assert "❔ I3" in card.plain  # fasting C-peptide below 0.3: not sure it is below 0.1


async def test_a_card_shows_the_unit_a_bare_number_was_read_in(store: Store) -> None:
    details = await _details(store, 2, hemoglobin=("6.5", "65", "g_l"))
    card = TeamTexts("en").card(details)
    assert "65 g/L = 6.5 g/dL (65)" in card.plain
    typed = await _details(store, 3, hemoglobin=("6.5", "65 g/L", "g_l"))
    assert "6.5 g/dL (65 g/L)" in TeamTexts("en").card(typed).plain


async def test_a_chinese_card_shows_a_bound_and_an_assumed_unit(store: Store) -> None:
    details = await _details(
        store, 4, c_peptide_fasting=("<0.1", "<0.1", "nmol_l"), hemoglobin=("6.5", "65", "g_l")
    )
    card = TeamTexts("zh-Hans").card(details)
    assert "<0.1 nmol/L" in card.plain
    assert "65 g/L = 6.5 g/dL" in card.plain


async def test_the_csv_keeps_the_sign(store: Store) -> None:
    details = await _details(store, 5, c_peptide_fasting=("<0.1", "<0.1 nmol/L", "nmol_l"))
    rows = list(csv.DictReader(io.StringIO(referrals_csv([details]).decode("utf-8-sig"))))
    assert rows[0]["answer:c_peptide_fasting [nmol_l]"] == "<0.1"
    assert rows[0]["criterion:islet_failure"] == "pass"
