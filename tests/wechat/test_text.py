"""Numbered options: how a reply is written, and how a typed key is read back."""

from __future__ import annotations

from bot.channels.wechat.text import (
    MAX_BYTES,
    PART_BYTES,
    Menu,
    menu,
    menu_id,
    parts,
    render,
    split,
    to_event,
)
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


def test_a_long_text_is_split_at_paragraphs_lines_and_sentences_and_nothing_is_lost() -> None:
    paragraphs = ["第一段。" + "字" * 300, "第二段。" + "字" * 300, "第三段。" + "字" * 300]
    assert split("\n\n".join(paragraphs)) == ["\n\n".join(paragraphs[:2]), paragraphs[2]]
    lines = ["一行。" + "字" * 300] * 3  # lines, when there is no paragraph break
    assert split("\n".join(lines)) == ["\n".join(lines[:2]), lines[2]]
    sentences = "One sentence here. " * 200  # one paragraph, one line: cut after a sentence
    pieces = split(sentences.strip())
    assert all(p.endswith(".") and len(p.encode()) <= PART_BYTES for p in pieces)
    assert " ".join(pieces) == sentences.strip()
    unbroken = "字" * 1500  # no boundary at all: cut between characters, never inside one
    pieces = split(unbroken)
    assert "".join(pieces) == unbroken and all(len(p.encode()) <= MAX_BYTES for p in pieces)


def test_short_replies_of_a_turn_share_one_part_and_a_menu_stays_apart() -> None:
    shown = menu(YES_NO, get_catalogs().get("en"))
    assert shown is not None
    out = parts(["Thanks.", "Next:", shown, "字" * 800])
    assert out[0] == "Thanks.\n\nNext:" and out[1] is shown and len(out) == 4


def test_a_question_becomes_a_menu_with_numbered_items() -> None:
    shown = menu(YES_NO, get_catalogs().get("zh-Hans"))
    assert shown == Menu(
        "Q?",
        (
            (menu_id("q1", "yes"), "回复 1 = Yes"),
            (menu_id("q1", "no"), "回复 2 = No"),
            (menu_id("q1", DONT_KNOW), "回复 3 = I don't know"),
        ),
        "请点一下您的答案，或输入它前面的数字。",
    )
    assert all(i.isdigit() and len(i) <= 64 for i, _ in shown.items)
    assert menu(Reply("Just text."), get_catalogs().get("en")) is None
    many = Reply("Q?", choices=tuple(Choice(str(i), "x") for i in range(11)), step="q")
    assert menu(many, get_catalogs().get("en")) is None  # over ten items: numbered text


def test_a_menu_click_is_a_tap_on_its_own_question_only() -> None:
    assert to_event("回复 2 = No", YES_NO, menu_id("q1", "no")) == Event.tap("q1", "no")
    stale = to_event("回复 1 = Yes", VALUE, menu_id("q1", "yes"))  # an older question's menu
    assert stale.kind == "tap" and stale.step != "hba1c"
