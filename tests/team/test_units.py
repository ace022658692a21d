"""Unit tests of the channel-free handoff: cards, CSV, pacing, the outbox worker, the chart."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import os
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.telegram.callbacks import referral_data as callback_data
from bot.channels.telegram.team_markup import parse_action as parse_callback
from bot.config import Settings
from bot.storage import Store, commands
from bot.storage.store import FunnelRow, ReferralDetails
from bot.team import PATIENT_NOTICE, REFERRAL_CARD, stats
from bot.team.cards import (
    ATTEMPT,
    MAX_TEXT,
    LastChange,
    TeamTexts,
    Text,
    actions_for,
    utf16_len,
)
from bot.team.claimers import claimer_gone
from bot.team.export import referrals_csv, safe_cell
from bot.team.outbox import OutboxWorker, SendError, WorkerOptions, remind
from bot.team.pacing import BACKGROUND, INTERACTIVE, Pacer
from bot.team.stats import cjk_font, render_funnel, stages_of, totals
from tests.conftest import with_answers
from tests.team.helpers import make_referral

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unit.db'}",
        data_encryption_key=commands.keygen(),
        _env_file=None,  # type: ignore[call-arg]
    )
    await commands.upgrade(settings)
    opened = await Store.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


# ------------------------------------------------------------------ cards


async def test_a_card_in_english_has_units_words_bmi_and_escaped_contact(store: Store) -> None:
    ref = await make_referral(store, 1, name="李 <b>&*", call_lang="zh-Hans", source="")
    details = await store.referral(ref)
    assert details is not None
    card = TeamTexts("en").card(details)
    assert "Weight: 65 kg (130斤)" in card.plain
    assert "Height: 165 cm (1米65)" in card.plain
    assert "BMI: 23.9" in card.plain
    assert "Name: 李 <b>&*" in card.plain
    assert "Name: 李 &lt;b&gt;&amp;*" in card.html
    assert "<b>&*" not in card.html.replace("<b>Referral", "")
    assert "no source (direct)" in card.plain
    assert "✅ E3 Body mass index (BMI)" in card.plain
    assert "Status: New" in card.plain
    assert [b.action for b in card.buttons] == ["contacted", ATTEMPT]


async def test_the_best_time_to_call_is_translated_like_the_call_language(store: Store) -> None:
    ref = await make_referral(store, 4, best_time="morning", call_lang="en")
    details = await store.referral(ref)
    assert details is not None
    card = TeamTexts("zh-Hans").card(details)
    assert "morning" not in card.plain
    morning = TeamTexts("zh-Hans").t.gettext("Morning")
    assert morning != "Morning" and f"：{morning}" in card.plain
    assert (
        "Best time to call: Evening"
        in TeamTexts("en")
        .card(
            replace(details, contact=replace(details.contact, best_time="evening"))  # type: ignore[type-var]
        )
        .plain
    )


async def test_a_needs_review_card_marks_unknown_criteria(store: Store) -> None:
    answers = with_answers(hemoglobin="unknown", weight="60 kg", height="165 cm")
    ref = await make_referral(store, 2, lang="en", answers=answers)
    details = await store.referral(ref)
    assert details is not None and details.outcome == "needs_review"
    card = TeamTexts("en").card(details)
    assert "❔ E4 Hemoglobin (anemia)" in card.plain
    assert "Hemoglobin: I don't know this value" in card.plain
    assert "Outcome: Needs review" in card.plain


async def test_the_card_shows_who_changed_it_and_stays_within_telegrams_limit(
    store: Store,
) -> None:
    ref = await make_referral(store, 3, best_time="x" * 500)
    details = await store.referral(ref)
    assert details is not None
    long_words = "很长的回答" * 40
    answers = {f: replace(a, raw=long_words) for f, a in details.answers.items()}
    details = replace(details, answers=answers)
    at = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)
    card = TeamTexts("en").card(details, LastChange("Li W.", at, "contacted"))
    assert "Last change: set to Contacted, by Li W., 2026-01-05 09:30" in card.plain
    assert utf16_len(card.plain) <= MAX_TEXT
    assert "…" in card.plain  # long words are cut


def test_buttons_follow_the_statuses_and_not_reachable_needs_three_attempts() -> None:
    assert actions_for("new", 0) == ["contacted", ATTEMPT]
    assert actions_for("new", 3) == ["contacted", "not_reachable", ATTEMPT]
    assert actions_for("contacted", 2) == ["visit_scheduled", "screen_failed", ATTEMPT]
    assert actions_for("visit_scheduled", 0) == ["enrolled", "screen_failed", ATTEMPT]
    assert actions_for("enrolled", 9) == [] and actions_for("screen_failed", 9) == []
    assert actions_for("not_reachable", 3) == ["contacted"]


def test_callback_data_is_ours_and_short() -> None:
    data = callback_data("CZ-7K3M-Q9P2", "visit_scheduled")
    assert data == "r|CZ-7K3M-Q9P2|visit_scheduled" and len(data.encode()) <= 64
    assert parse_callback(data) == ("CZ-7K3M-Q9P2", "visit_scheduled")
    for forged in ("r|CZ-7K3M-Q9P2|delete_all", "a|age|yes", "r|x|contacted", None, ""):
        assert parse_callback(forged) is None


# ------------------------------------------------------------------ export


async def test_the_csv_has_a_column_per_criterion_and_answer(store: Store) -> None:
    first = await make_referral(store, 4, name='=HYPERLINK("x")', phone="+8613800138000")
    second = await make_referral(store, 5, lang="en", answers=with_answers(hemoglobin="unknown"))
    found = await store.referrals()
    rows = list(csv.DictReader(io.StringIO(referrals_csv(found).decode("utf-8-sig"))))
    assert [r["ref"] for r in rows] == [first, second]
    header = list(rows[0])
    assert header[:3] == ["ref", "status", "outcome"]
    assert sum(h.startswith("criterion:") for h in header) == 16
    assert "answer:hba1c [percent]" in header and "words:hba1c" in header
    assert rows[0]["name"].startswith("'=")  # never a formula
    assert rows[0]["phone"] == "+8613800138000"  # a phone number stays as it is
    assert rows[0]["answer:height [cm]"] == "165" and rows[0]["words:height"] == "1米65"
    assert (
        rows[1]["criterion:anemia"] == "unknown"
        and rows[1]["answer:hemoglobin [g_dl]"] == "unknown"
    )
    assert rows[0]["answer:pregnant"] == "no" and rows[0]["criterion:pregnancy"] == "pass"


def test_safe_cells() -> None:
    assert safe_cell("=1+1") == "'=1+1" and safe_cell("@cmd") == "'@cmd"
    assert safe_cell("-5") == "-5" and safe_cell("+86 138 0013 8000") == "+86 138 0013 8000"
    assert safe_cell("李") == "李"


# ------------------------------------------------------------------ values shown


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


# ------------------------------------------------------------------ the chart


def _rows() -> list[FunnelRow]:
    return [
        FunnelRow("zh-Hans", "flyer-sh01", "finished", True, "likely_eligible", "enrolled"),
        FunnelRow("zh-Hans", "", "finished", True, "needs_review", "contacted"),
        FunnelRow("en", "qr-ward-3", "finished", True, "likely_ineligible", None),
        FunnelRow("es", "qr-ward-3", "active", True, None, None),
        FunnelRow("ru", "", "abandoned", False, None, None),
    ]


def test_funnel_counts() -> None:
    counts = totals(_rows())
    assert [counts[s] for s in ("started", "consented", "completed", "handed_off")] == [5, 4, 3, 2]
    assert (counts["contacted"], counts["enrolled"]) == (2, 1)
    assert stages_of(_rows()[0])[-1] == "enrolled"


def _chinese(labels: list[str]) -> list[str]:
    return [label for label in labels if any("\u4e00" <= c <= "\u9fff" for c in label)]


def test_the_chart_is_readable_with_the_fonts_at_hand(tmp_path: Path) -> None:
    """Chinese labels where a CJK font is installed (CI installs one); English, not boxes,
    on a machine set up only by `make`."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would be a warning
        chart = render_funnel(_rows(), TeamTexts("zh-Hans"))
    assert chart.png.startswith(b"\x89PNG")
    assert chart.missing_glyphs == []
    assert chart.font == cjk_font()
    if chart.font is None:
        assert not IN_CI, "no CJK font: .ci/run installs fonts-wqy-microhei for the chart"
        assert chart.lang == "en" and _chinese(chart.labels) == []
    else:
        assert chart.lang == "zh-Hans"
        assert len(_chinese(chart.labels)) >= 9, chart.labels  # stages, titles, languages
    (tmp_path / "funnel.png").write_bytes(chart.png)


def test_without_a_cjk_font_the_chart_is_drawn_in_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stats, "cjk_font", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chart = render_funnel(_rows(), TeamTexts("zh-Hans"))
    assert chart.font is None and chart.lang == "en" and chart.missing_glyphs == []
    assert "Started" in chart.labels and "Screening funnel" in chart.labels
    assert _chinese(chart.labels) == []
    assert stats.undrawable(chart.labels, ["DejaVu Sans"]) == set()
    assert stats.undrawable(["筛查"], ["DejaVu Sans"]) == {"筛", "查"}


# ------------------------------------------------------------------ pacing


async def test_the_pacer_keeps_within_the_window_and_serves_commands_first() -> None:
    pacer = Pacer(3, 0.4, 0.01)
    moments: list[float] = []
    order: list[str] = []

    async def send(name: str, priority: int) -> None:
        async with pacer.slot(priority):
            moments.append(time.monotonic())
            order.append(name)

    started = time.monotonic()
    await asyncio.gather(
        *(send(f"card{i}", BACKGROUND) for i in range(5)), send("cmd", INTERACTIVE)
    )
    assert all(b - a >= 0.01 for a, b in itertools.pairwise(moments))
    for i in range(len(moments) - 3):
        assert moments[i + 3] - moments[i] >= 0.4  # never 4 sends within 0.4 s
    assert order.index("cmd") < order.index("card2")  # not behind the cards that waited
    assert time.monotonic() - started >= 0.4
    pacer.block(0.2)
    assert pacer.delay() >= 0.15


# ------------------------------------------------------------------ the outbox worker


class FakeSender:
    def __init__(self, failures: list[SendError] | None = None) -> None:
        self.failures = list(failures or [])
        self.cards: list[str] = []
        self.texts: list[Text] = []
        self.documents: list[tuple[str, bytes]] = []
        self.people: list[tuple[int, str]] = []
        self.next_id = 100

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def send_card(self, card: object) -> int:
        self._maybe_fail()
        self.cards.append(card.ref)  # type: ignore[attr-defined]
        self.next_id += 1
        return self.next_id

    async def send_team_text(self, text: Text, *, reply_to: int | None = None) -> int:
        self._maybe_fail()
        self.texts.append(text)
        self.next_id += 1
        return self.next_id

    async def send_team_document(self, filename: str, data: bytes, caption: str) -> int:
        self._maybe_fail()
        self.documents.append((filename, data))
        self.next_id += 1
        return self.next_id

    async def send_to_person(self, chat_id: int, text: str) -> None:
        self._maybe_fail()
        self.people.append((chat_id, text))


def worker(store: Store, sender: FakeSender, **options: float) -> OutboxWorker:
    return OutboxWorker(
        store,
        sender,
        TeamTexts("zh-Hans"),
        team_pacer=Pacer(100, 1.0),
        options=WorkerOptions(
            poll_interval=0.02, backoff_base=0.02, backoff_cap=0.1, digest_gather=0.05, **options
        ),
    )


async def run_until(work: OutboxWorker, done: object, timeout: float = 5.0) -> None:
    work._stopping = False
    task = asyncio.create_task(work.run())
    try:
        deadline = time.monotonic() + timeout
        while not done():  # type: ignore[operator]
            assert time.monotonic() < deadline, "the worker did not finish"
            await asyncio.sleep(0.01)
    finally:
        work.stop()
        await asyncio.wait_for(task, 5)


async def test_failures_are_retried_and_a_card_is_never_sent_twice(store: Store) -> None:
    ref = await make_referral(store, 10)
    sender = FakeSender(
        [SendError("502 Bad Gateway"), SendError("429", retry_after=0.05), SendError("timeout")]
    )
    work = worker(store, sender)
    await run_until(work, lambda: sender.cards)
    assert sender.cards == [ref] and work.failures == 3
    details = await store.referral(ref)
    assert details is not None and details.card_message_id is not None
    # queued again (say a second process replayed it): the card is not sent again
    assert await store.enqueue(REFERRAL_CARD, f"{ref}:again", {"ref": ref})
    await run_until(work, lambda: work.sent.get(REFERRAL_CARD, 0) >= 2)
    assert sender.cards == [ref]


async def test_a_burst_becomes_one_digest_and_one_csv(store: Store) -> None:
    refs = [await make_referral(store, 20 + i) for i in range(30)]
    sender = FakeSender()
    work = worker(store, sender, digest_threshold=10)
    await run_until(work, lambda: sender.documents)
    assert sender.cards == []
    assert len(sender.texts) == 1 and all(r in sender.texts[0].plain for r in refs)
    rows = list(csv.DictReader(io.StringIO(sender.documents[0][1].decode("utf-8-sig"))))
    assert sorted(r["ref"] for r in rows) == sorted(refs)
    counts = await store.outbox_counts()
    assert counts.get("pending", 0) == 0


async def test_the_patient_notice_speaks_the_patients_language(store: Store) -> None:
    ref = await make_referral(store, 30, lang="es", card=False)
    await store.enqueue(PATIENT_NOTICE, f"ack:{ref}", {"ref": ref}, user_key="tg:30")
    sender = FakeSender([SendError("Forbidden: bot was blocked by the user", permanent=True)])
    work = worker(store, sender)
    await run_until(work, lambda: work.failures)
    assert sender.people == []  # blocked: given up, not retried for ever
    assert (await store.outbox_counts()).get("failed") == 1

    other = await make_referral(store, 31, lang="es", card=False)
    await store.enqueue(PATIENT_NOTICE, f"ack:{other}", {"ref": other}, user_key="tg:31")
    await run_until(work, lambda: sender.people)
    chat, text = sender.people[0]
    assert chat == 31 and other in text and "equipo" in text


async def test_a_reminder_is_queued_once_per_period(store: Store, tmp_path: Path) -> None:
    ref = await make_referral(store, 40)
    assert await remind(store, 0) == [ref]
    sender = FakeSender()
    await run_until(worker(store, sender), lambda: sender.texts)
    assert ref in sender.texts[0].plain and "⏰" in sender.texts[0].plain
    assert await store.referrals_to_remind(24) == []


async def test_a_stop_gives_claimed_items_back(store: Store) -> None:
    refs = [await make_referral(store, 50 + i) for i in range(3)]

    sending = asyncio.Event()

    class SlowSender(FakeSender):
        async def send_card(self, card: object) -> int:
            sending.set()
            await asyncio.Event().wait()  # Telegram never answers
            return 1

    work = worker(store, SlowSender())
    task = asyncio.create_task(work.run())
    await asyncio.wait_for(sending.wait(), 30)  # the worker holds the cards it claimed
    assert await store.claim_outbox("another", 10, kinds=[REFERRAL_CARD]) == []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    again = await store.claim_outbox("another", 10, kinds=[REFERRAL_CARD])
    assert sorted(i.payload["ref"] for i in again) == sorted(refs)  # no lease to wait for


async def test_a_killed_process_s_claims_are_sent_at_the_next_start(store: Store) -> None:
    """A worker killed while it held a card (no release, no finally) leaves a lease of
    minutes; the next start on this machine sees that process is gone and sends at once."""
    ref = await make_referral(store, 60)
    gone = _worker_id_of_an_ended_process()
    assert await store.claim_outbox(gone, 10, kinds=[REFERRAL_CARD])  # then SIGKILLed
    assert await store.claim_outbox("another", 10, kinds=[REFERRAL_CARD]) == []  # leased
    sender = FakeSender()
    await run_until(worker(store, sender), lambda: sender.cards)
    assert sender.cards == [ref]


async def test_a_live_process_s_claims_are_left_to_it(store: Store) -> None:
    await make_referral(store, 61)
    live = worker(store, FakeSender()).worker_id  # this process: it still runs
    assert await store.claim_outbox(live, 10, kinds=[REFERRAL_CARD])
    assert await store.release_claims(claimer_gone) == 0
    assert await store.claim_outbox("another", 10, kinds=[REFERRAL_CARD]) == []


def _worker_id_of_an_ended_process() -> str:
    code = "from bot.team.claimers import worker_name; print(worker_name())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    return done.stdout.strip()
