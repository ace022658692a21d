"""Numbered options: how a reply is written, and how a typed key is read back."""

from __future__ import annotations

from bot.channels.wechat.text import MAX_BYTES, join, render, to_event
from bot.engine.events import Choice, Event, Reply
from bot.engine.flow import DONT_KNOW
from bot.i18n import get_catalogs

YES_NO = Reply(
    "Q?",
    kind="question",
    choices=(Choice("yes", "Yes"), Choice("no", "No"), Choice(DONT_KNOW, "I don't know")),
    expects="choice",
    step="q1",
)
VALUE = Reply(
    "HbA1c?",
    kind="question",
    choices=(Choice(DONT_KNOW, "I don't know this value"),),
    expects="number",
    step="hba1c",
)


def test_options_are_numbered_in_the_patients_language() -> None:
    text = render(YES_NO, get_catalogs().get("zh-Hans"))
    assert text.splitlines()[1:] == ["回复 1 = Yes", "回复 2 = No", "回复 3 = I don't know"]
    assert render(VALUE, get_catalogs().get("en")).splitlines()[1] == (
        "Reply ? = I don't know this value"
    )


def test_a_typed_number_picks_its_option_and_other_text_is_text() -> None:
    assert to_event("2", YES_NO) == Event.tap("q1", "no")
    assert to_event(" ３ ", YES_NO) == Event.tap("q1", DONT_KNOW)  # full-width digit
    assert to_event("4", YES_NO) == Event.say("4")  # not an option: the engine reads it
    assert to_event("7.5", VALUE) == Event.say("7.5")
    assert to_event("1", VALUE) == Event.say("1")  # a value question takes numbers as values
    assert to_event("?", VALUE) == Event.tap("hba1c", DONT_KNOW)
    assert to_event("/help", YES_NO) == Event.cmd("help")
    assert to_event("yes", None) == Event.say("yes")


def test_a_long_turn_is_cut_to_the_platforms_limit() -> None:
    text = join(["字" * 1000, "字" * 1000])
    assert len(text.encode()) <= MAX_BYTES and text.endswith("…")
