"""Golden conversations replay exactly: every reply, in every language covered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.engine.engine import load_engine
from tests.golden.runner import golden_files, load, play

RUNS = [(path, run) for path in golden_files() for run in load(path)["runs"]]


@pytest.mark.parametrize(("path", "run"), RUNS, ids=[f"{p.stem}:{r['name']}" for p, r in RUNS])
def test_golden_run_replays_exactly(path: Path, run: dict[str, Any]) -> None:
    data = load(path)
    engine = load_engine(data["flow"])
    assert data["flow_version"] == engine.flow.version, "flow changed: review and --update"
    got = play(engine, run)
    for index, (want, have) in enumerate(zip(run["steps"], got["steps"], strict=True)):
        assert have == want, f"step {index} ({want['in']})"
    assert got["outcome"] == run["outcome"]


def test_golden_files_cover_the_languages() -> None:
    langs = {run["lang"] for _, run in RUNS}
    assert {"en", "zh-Hans"} <= langs
