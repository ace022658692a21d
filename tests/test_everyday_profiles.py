"""Everyday replay profiles (tests/data/everyday/<lang>/): whole screenings typed the way
people type, each agreeing with its expected line, as the study team's examples do.

The profiles and their expected lines are written independently of the bot's word lists
(see the README in that folder). A reading the bot offers to confirm is confirmed by the
replay, as the spec says; the outcome must still agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.channels.replay import run_profile
from bot.engine.engine import Engine
from bot.i18n import LANGUAGES
from tests.conftest import DATA
from tests.test_replay import agrees

EVERYDAY = DATA / "everyday"


def _expected(folder: Path) -> dict[str, dict[str, object]]:
    lines = (folder / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["id"]: row for row in map(json.loads, filter(None, lines))}


def _profiles() -> list[Path]:
    return sorted(EVERYDAY.glob("*/*.json"))


def test_every_language_has_everyday_profiles() -> None:
    folders = {p.parent.name for p in _profiles()}
    assert folders >= set(LANGUAGES), f"no everyday profiles for {set(LANGUAGES) - folders}"


@pytest.mark.parametrize("path", _profiles(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_everyday_profile_agrees(engine: Engine, path: Path) -> None:
    profile = json.loads(path.read_text(encoding="utf-8"))
    want = _expected(path.parent)[profile["id"]]
    got = run_profile(engine, profile)
    assert agrees(got, want), (got, want)
