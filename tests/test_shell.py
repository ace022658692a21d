"""The terminal chat works end to end in every language."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from bot.channels.shell import run_shell
from bot.engine.engine import Engine
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
    lines = iter(shell_lines(engine))

    def read() -> str:
        line = next(lines, None)
        if line is None:
            raise EOFError
        return line

    out = io.StringIO()
    code = run_shell(engine, lang, read=read, out=out)
    assert code == 0
    patient = Patient(engine, lang)
    expected = engine.render.ending(patient.conv, "likely_eligible", [], []).text
    assert expected.splitlines()[0] in out.getvalue()


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
