"""The terminal chat works end to end in every language."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from bot.channels.shell import run_shell, to_event
from bot.engine.engine import Engine
from bot.engine.events import Event
from bot.i18n import LANGUAGES
from tests.conftest import ELIGIBLE_EN, Patient

TYPED = {
    "age": "45",
    "hba1c": "8.5%",
    "c_peptide_fasting": "0.05 nmol/L",
    "c_peptide_2h": "0.1 nmol/L",
    "height": "165 cm",
    "weight": "60 kg",
    "hemoglobin": "13 g/dL",
}


def shell_lines(engine: Engine) -> list[str]:
    """What a person types in the shell for the eligible profile: option numbers and values."""
    lines = ["1"]  # agree to the health questions
    for question in engine.flow.questions:
        if question.id in TYPED:
            lines.append(TYPED[question.id])
        else:
            ids = [o.id for o in question.options]
            lines.append(str(ids.index(ELIGIBLE_EN[question.id]) + 1))
    return lines


@pytest.mark.parametrize("lang", LANGUAGES)
def test_shell_runs_a_whole_screening(engine: Engine, lang: str) -> None:
    out = chat(engine, lang, shell_lines(engine))  # the run ends with exit code 0
    patient = Patient(engine, lang)
    expected = engine.render.ending(patient.conv, "likely_eligible", [], []).text
    assert expected.splitlines()[0] in out


def test_shell_command_line_in_arabic() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "shell", "--lang", "ar"],
        input="1\n1\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "\u200f" in done.stdout and "كم عمرك" in done.stdout


@pytest.fixture(scope="module")
def typed(engine: Engine) -> Engine:
    """The engine as `python -m bot shell` builds it: answers are typed numbers."""
    return Engine(engine.flow, typed=True)


def chat(engine: Engine, lang: str, lines: list[str]) -> str:
    """Type ``lines`` into the terminal chat; return everything it printed."""
    typed_lines = iter(lines)

    def read() -> str:
        line = next(typed_lines, None)
        if line is None:
            raise EOFError
        return line

    out = io.StringIO()
    assert run_shell(engine, lang, read=read, out=out) == 0
    return out.getvalue()


def test_the_terminal_says_type_the_number_never_tap(typed: Engine) -> None:
    lines = ["1", "maybe", "45", "2", "1", "1", "1", "1", "no", "8.5", "/quit"]
    out = chat(typed, "en", lines)
    assert "Please type the number of one of the answers below." in out
    assert "tap" not in out.lower()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_terminal_hint_and_help_are_in_the_patients_language(typed: Engine, lang: str) -> None:
    t = typed.render.t(typed.new(lang))
    out = chat(typed, lang, ["/help"])
    hint = t.gettext(
        'Type the number of your answer. Type ? for "I don\'t know". '
        "Type /help for help, /quit to leave."
    )
    assert hint in out.splitlines()[0]
    if lang != "en":
        assert "to leave" not in out
    for command in ("/faq", "/privacy", "/delete", "/back", "/restart", "/language"):
        assert command in typed.render.help(typed.new(lang)).text
        assert command in out


def test_question_mark_is_i_dont_know_on_choice_and_number_questions(typed: Engine) -> None:
    out = chat(typed, "en", ["1", "?"])
    assert "  3. I don't know (?)" in out  # the choice question shows it
    conv = typed.new("en")
    typed.handle(conv, Event.start())
    offered = typed.handle(conv, Event.tap("consent", "agree")).replies[-1]
    for line in ["?", "45", "2", "?"]:
        replies = typed.handle(conv, to_event(line, offered)).replies
        offered = next((r for r in reversed(replies) if r.step), offered)
    assert conv.answers["diabetes_diagnosed"].value == "unknown"
    assert conv.answers["diabetes_type"].value == "unknown"
    # a number question offers "?" only, not a number
    out = chat(typed, "en", ["1", "1", "45", "2", "2", "1", "1", "1", "2"])
    assert "  ?. I don't know this value" in out
    hba1c = typed.flow.question("hba1c")
    asked = typed.render.question(typed.new("en"), hba1c)
    assert to_event("?", asked) == Event.tap("hba1c", "unknown")
    assert to_event("1", asked) == Event.say("1")  # a number is a value, not an option


def test_after_declining_consent_start_asks_again_in_the_terminal(typed: Engine) -> None:
    out = chat(typed, "zh-Hans", ["2", "/start", "1"])
    t = typed.render.t(typed.new("zh-Hans"))
    declined = typed.render.declined(typed.new("zh-Hans")).text
    assert declined in out and "/start" in declined
    after = out.split(declined, 1)[1]
    assert t.gettext("Yes, I agree") in after  # the consent question again, not the help
    assert typed.render.question(typed.new("zh-Hans"), typed.flow.questions[0]).text in after


def test_contact_steps_in_the_terminal(typed: Engine) -> None:
    conv = typed.new("en")
    phone = typed.render.phone_question(conv, "phone")
    assert phone.choices == () and "tap" not in phone.text
    email = typed.render.email_question(conv, "email")
    assert "type 1 to skip" in email.text
    assert to_event("1", email) == Event.tap("email", "skip")
    assert to_event("someone@example.com", email) == Event.say("someone@example.com")
