"""A corpus of hostile input: each item gets a clear reply and changes nothing it should not."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.channels.telegram.handlers import parse_payload
from bot.channels.telegram.markup import parse_callback, question_html
from bot.config import Settings
from bot.engine.contact import clean_name
from bot.engine.engine import Engine
from bot.engine.events import Event, Result
from bot.ratelimit import FloodGuard
from bot.storage import Store, commands
from bot.team.cards import MAX_TEXT, MAX_VALUE, Card, TeamTexts, utf16_len
from bot.team.export import referrals_csv, safe_cell
from tests.conftest import ELIGIBLE_EN, Patient
from tests.team.helpers import make_referral

TEXTS = [
    "<script>alert(1)</script>",
    "<b>bold</b> & *stars* _under_ `code`",
    "'; DROP TABLE conversations; --",
    "\u200b\u200c\u200d\ufeff",
    "\u202e\u2066\u2069\u200f",
    "😀" * 500,
    "A" * 4096,
    "\x00\x01\x07",
    "{}{0}{name}%s%d",
    "../../etc/passwd",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("state", ["age", "sex", "hba1c", "weight"])
def test_hostile_text_gets_a_reply_and_changes_no_answer(
    engine: Engine, text: str, state: str
) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until=state)
    before = dict(patient.conv.answers)
    result = patient.say(text)
    assert result.replies[0].kind == "error"
    assert patient.conv.state == state and patient.conv.answers == before
    assert all(len(r.text) < 1000 for r in result.replies)


@pytest.mark.parametrize(
    "payload",
    [
        "x" * 65,
        "a" * 41,
        "flyer__klingon",
        "flyer__",
        "__zh-Hans",
        "fly er",
        "flyer;drop",
        "Ω",
        "",
        "a/b",
        "a\nb",
    ],
)
def test_strange_or_long_deep_link_payloads_are_ignored(payload: str) -> None:
    source, lang = parse_payload(payload)
    assert lang in ("", "en", "zh-Hans", "zh-Hant", "es", "ru", "ar")
    assert source == "" or (source.replace("-", "").isalnum() and len(source) <= 40)


def test_valid_payloads() -> None:
    assert parse_payload("flyer-SH01__zh-Hant") == ("flyer-sh01", "zh-Hant")
    assert parse_payload("wechat") == ("wechat", "")
    assert parse_payload("poster__fr") == ("poster", "")


@pytest.mark.parametrize(
    "data",
    [
        "",
        "a|",
        "a||",
        "b|age|yes",
        "a|age|yes|extra",
        "a|" + "x" * 60 + "|yes",
        "a|age|<b>",
        None,
        "r|CZ-1|x",
    ],
)
def test_callback_data_that_is_not_ours_is_rejected(data: str | None) -> None:
    assert parse_callback(data) is None


def test_forged_taps_on_every_step_change_nothing(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN, until="hba1c")
    before = dict(patient.conv.answers)
    for step in [
        "age",
        "sex",
        "share",
        "phone",
        "delete",
        "language",
        "alerts",
        "confirm:age",
        "nonsense",
    ]:
        patient.send(Event.tap(step, "zz-not-an-option"))
        assert patient.conv.answers == before and patient.conv.state == "hba1c"


def test_flood_guard_paces_instead_of_refusing_then_recovers() -> None:
    now = [0.0]
    guard = FloodGuard(rate=2.0, burst=3, clock=lambda: now[0])
    assert [guard.delay(1) for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    assert guard.delay(2) == 0.0  # another person is not slowed down
    now[0] += 5.0
    assert guard.delay(1) == 0.0


def test_a_real_flood_sets_aside_only_text_and_media_and_notes_once() -> None:
    guard = FloodGuard(flood_queue=3)
    kinds = ["text", "tap", "text", "text", "text", "tap", "contact", "command", "other"]
    flooded = [guard.arrive(1, 100 + i, kind) for i, kind in enumerate(kinds)]
    assert flooded == [False] * 3 + [True, True, False, False, False, True]
    assert guard.set_aside(1, 104, "text") and not guard.set_aside(1, 105, "tap")
    assert [guard.note_due(1), guard.note_due(1)] == [True, False]
    for i in range(len(kinds) - 1):
        guard.leave(1, 100 + i)
    assert guard.reask_due(1)  # the last one waiting: show the current question again
    guard.leave(1, 108)
    assert guard.note_due(1)  # a new flood gets its own note


def test_flood_guard_forgets_the_oldest_people() -> None:
    guard = FloodGuard(max_people=10)
    for i in range(100):
        guard.delay(i)
    assert len(guard._buckets) == 10


# ------------------------------------------------------------------ hostile names

#: Names a person may type, or carry as their channel profile name.
NAMES = [
    "<script>alert(1)</script>",
    '李 <b>&*</b> <a href="https://evil.example">x</a>',
    "Ann\n✅ Status: Enrolled",  # a forged card line
    "\u202eenna\u2066 Li\u2069",  # bidi controls: would reverse the rest of the line
    "Zoë \u200b\u200d\ufeffWang",
    '=HYPERLINK("https://evil.example","Ann")',
    "+SUM(1,2)",
    "@cmd",
    "-2+3 Li",
    "L" * 5000,
]
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}
TAGS = re.compile(r"<[^>]*>")


def _named(engine: Engine, profile_name: str) -> tuple[Patient, Result]:
    """A screened patient who agrees to share and shares their phone as ``profile_name``."""
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN)
    patient.tap("yes")
    shared = replace(Event.contact("+86 138 0013 8000"), profile_name=profile_name)
    return patient, patient.send(shared)


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_profile_name_is_offered_only_as_it_would_be_kept(
    engine: Engine, name: str
) -> None:
    patient, result = _named(engine, name)
    asked = patient.asked
    assert asked is not None and asked.step == "name"
    kept = clean_name(name)
    if kept is None:  # not a name: not offered, the person types one
        assert asked.choices == ()
    else:
        assert kept in asked.text and [c.id for c in asked.choices] == ["yes"]
        patient.send(replace(Event.tap("name", "yes"), profile_name=name))
        assert patient.conv.state == "email"
        assert patient.conv.contact is not None and patient.conv.contact["name"] == kept
    for reply in result.replies:
        assert not BIDI & set(reply.text) and "\x00" not in reply.text
        assert len(reply.text) < 1000
        assert set(TAGS.findall(question_html(reply))) <= {"<b>", "</b>"}


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_typed_name_is_kept_as_plain_text_or_refused(engine: Engine, name: str) -> None:
    patient, _ = _named(engine, "")
    result = patient.say(name)
    kept = clean_name(name)
    if kept is None:
        assert result.replies[0].kind == "error" and patient.conv.state == "name"
        assert patient.conv.contact is not None and "name" not in patient.conv.contact
        return
    assert patient.conv.state == "email"
    assert patient.conv.contact is not None and patient.conv.contact["name"] == kept
    assert not BIDI & set(kept) and "\n" not in kept and len(kept) <= 80
    assert "<script>" not in name or kept == name  # markup is text, kept as typed


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hostile.db'}",
        data_encryption_key=commands.keygen(),
        _env_file=None,  # type: ignore[call-arg]
    )
    await commands.upgrade(settings)
    opened = await Store.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


def _assert_safe_card(card: Card) -> None:
    """The card's HTML holds only our own bold tags, and says exactly what its plain text says."""
    assert set(TAGS.findall(card.html)) <= {"<b>", "</b>"}
    assert html.unescape(card.html.replace("<b>", "").replace("</b>", "")) == card.plain
    assert utf16_len(card.plain) <= MAX_TEXT
    named = [line for line in card.plain.splitlines() if line.startswith("Name: ")]
    assert len(named) == 1  # a newline in a name forges no line of its own
    assert [line for line in card.plain.splitlines() if "Status: " in line[:10]] == ["Status: New"]
    assert len(named[0]) <= len("Name: ") + MAX_VALUE
    for line in card.plain.splitlines():  # a bidi control stays on the name's own line
        assert line == named[0] or not BIDI & set(line), line


@pytest.mark.parametrize("name", NAMES)
async def test_a_hostile_name_on_the_referral_card(store: Store, name: str) -> None:
    stored = await make_referral(store, 1, lang="en", name=name, source="")
    details = await store.referral(stored)
    assert details is not None and details.contact is not None
    assert details.contact.name == name  # stored as given, whatever it holds
    card = TeamTexts("en").card(details)
    _assert_safe_card(card)
    if len(name) < 100:  # a shorter name is shown whole, as text
        assert " ".join(name.split()) in card.plain


async def test_a_hostile_name_typed_to_the_engine_reaches_the_card_as_text(
    engine: Engine, store: Store
) -> None:
    patient, _ = _named(engine, "")
    patient.say("\u202e<script>alert(1)</script>\u2066")
    assert patient.conv.contact is not None
    kept = patient.conv.contact["name"]
    stored = await make_referral(store, 2, lang="en", name=kept)
    details = await store.referral(stored)
    assert details is not None
    card = TeamTexts("en").card(details)
    _assert_safe_card(card)
    assert "Name: <script>alert(1)</script>" in card.plain
    assert "Name: &lt;script&gt;alert(1)&lt;/script&gt;" in card.html
    assert not BIDI & set(card.plain)


async def test_hostile_names_and_words_never_run_as_spreadsheet_formulas(store: Store) -> None:
    for user, name in enumerate(NAMES):
        await make_referral(store, 10 + user, lang="en", name=name, email="=x@evil.example")
    last = await make_referral(store, 99, lang="en", name="Li", phone="+8613800138000")
    found = await store.referrals()
    # The engine refuses such words; a row stored by hand (or by an older version) may hold them.
    words = {"age": "=45", "weight": "@60 kg", "height": "+165 cm", "hba1c": "-8.5%"}
    shown = replace(
        found[-1],
        answers={f: replace(a, raw=words.get(f, a.raw)) for f, a in found[-1].answers.items()},
    )
    text = referrals_csv([*found[:-1], shown]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(NAMES) + 2
    header, *body = rows
    assert [r[header.index("name")] for r in body[: len(NAMES)]] == [
        safe_cell(n) for n in NAMES
    ]  # kept whole, newlines and all, inside quotes
    for row in body:
        for column, cell in zip(header, row, strict=True):
            if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                assert re.fullmatch(r"[+-]?[\d\s().-]+", cell), (column, cell)
    row = dict(zip(header, body[-1], strict=True))
    assert row["ref"] == last and row["phone"] == "+8613800138000"  # a phone number stays
    age = next(c for c in header if c.startswith("answer:age"))
    assert row["words:age"] == "'=45" and row[age] == "45"
    assert row["words:weight"] == "'@60 kg" and row["words:height"] == "'+165 cm"
    assert row["words:hba1c"] == "'-8.5%"
