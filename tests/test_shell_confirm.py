"""A reading offered to confirm, in the terminal chat: numbered options, confirmed by number."""

from __future__ import annotations

import io

import pytest

from bot.channels.shell import run_shell
from bot.engine.engine import Engine
from tests.readings import proposed, script


def test_a_reading_is_confirmed_by_its_number(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(monkeypatch, {"I think so": proposed("yes")})
    lines = iter(["1", "I think so", "1", "/quit"])  # agree, a hedged yes, then "1. Yes"
    out = io.StringIO()
    assert run_shell(engine, "en", read=lines.__next__, out=out) == 0
    text = out.getvalue()
    offer = text.index("Do you mean: Yes?")
    assert "  1. Yes\n  2. No\n  3. I don't know" in text[offer:]
    assert "How old are you?" in text[offer:]
