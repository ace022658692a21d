"""A corpus of hostile input: each item gets a clear reply and changes nothing it should not."""

from __future__ import annotations

import pytest

from bot.channels.telegram.handlers import parse_payload
from bot.channels.telegram.markup import escape, parse_callback
from bot.engine.engine import Engine
from bot.engine.events import Event
from bot.ratelimit import FloodGuard
from tests.conftest import ELIGIBLE_EN, Patient

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


@pytest.mark.parametrize("text", TEXTS)
def test_hostile_names_are_kept_as_text_and_escaped_for_html(engine: Engine, text: str) -> None:
    assert "<" not in escape(text) or "&lt;" in escape(text)
    assert "&" not in escape("&") or escape("&") == "&amp;"


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
