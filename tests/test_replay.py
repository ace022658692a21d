"""The replay contract: the study team's example profiles agree with expected.jsonl."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.channels.replay import replay_files, run_profile
from bot.engine.engine import Engine
from tests.conftest import DATA

EXAMPLES = DATA / "examples"


def _expected() -> dict[str, dict[str, object]]:
    lines = (EXAMPLES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


def agrees(got: dict[str, object], want: dict[str, object]) -> bool:
    """Apply the spec's rule: failed may be any non-empty subset when the flow stopped early."""
    if got.get("outcome") != want["outcome"] or "error" in got:
        return False
    failed, want_failed = set(got["failed"]), set(want["failed"])  # type: ignore[call-overload]
    if want["outcome"] == "likely_ineligible":
        return (
            bool(failed) and failed <= want_failed and set(got["unknown"]) <= set(want["unknown"])
        )  # type: ignore[call-overload]
    return failed == want_failed and got["unknown"] == want["unknown"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("example-*.json")), ids=lambda p: p.stem)
def test_example_profile_agrees(engine: Engine, path: Path) -> None:
    profile = json.loads(path.read_text(encoding="utf-8"))
    got = run_profile(engine, profile)
    assert agrees(got, _expected()[profile["id"]]), got


def test_bad_json_gives_an_error_line_and_the_rest_still_run(
    engine: Engine, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    paths = [EXAMPLES / "example-01.json", broken, EXAMPLES / "example-02.json"]
    lines, ok = replay_files(engine, paths)
    rows = [json.loads(line) for line in lines]
    assert not ok
    assert rows[0]["id"] == "example-01" and "outcome" in rows[0]
    assert rows[1]["id"] == "broken" and "error" in rows[1]
    assert rows[2]["id"] == "example-02" and "outcome" in rows[2]


def test_missing_answer_is_an_error_line(engine: Engine) -> None:
    profile = {"id": "p1", "language": "en", "answers": {"diabetes_diagnosed": "yes"}}
    with pytest.raises(Exception, match="no answer for age"):
        run_profile(engine, profile)


def test_answer_the_bot_cannot_accept_is_an_error_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {"id": "p2", "language": "en", "answers": {"diabetes_diagnosed": "yes", "age": "150"}}
        )
    )
    lines, ok = replay_files(engine, [path])
    assert not ok
    assert json.loads(lines[0]) == {
        "id": "p2",
        "error": "the bot could not accept the answer for age",
    }


def test_bare_weight_without_a_unit_cannot_be_settled(engine: Engine, tmp_path: Path) -> None:
    from tests.conftest import with_answers

    path = tmp_path / "p.json"
    path.write_text(
        json.dumps({"id": "p3", "language": "zh-Hans", "answers": with_answers(weight="130")})
    )
    lines, ok = replay_files(engine, [path])
    assert not ok and "weight" in json.loads(lines[0])["error"]


def test_command_line_prints_one_line_per_profile_and_exit_code() -> None:
    files = sorted(str(p) for p in EXAMPLES.glob("example-*.json"))
    done = subprocess.run(
        [sys.executable, "-m", "bot", "replay", *files], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["id"] for r in rows] == [Path(f).stem for f in files]


def _recipe(target: str) -> list[str]:
    """Return the words of a Makefile target's command, with $(BIN)/python as this Python."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"{target}:")))
    command = lines[start + 1].strip().replace("$(BIN)/python", sys.executable)
    return command.split()


ROOT = Path(__file__).resolve().parents[1]


def test_make_replay_reads_the_examples_inside_the_repository() -> None:
    words = _recipe("replay")
    patterns = [w for w in words if w.endswith(".json")]
    assert patterns and all(not p.startswith(("/", "..")) for p in patterns)
    files = sorted(p for pattern in patterns for p in ROOT.glob(pattern))
    assert len(files) == 18 and all(ROOT in f.parents for f in files)
    done = subprocess.run(
        [*words[:4], *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    expected = _expected()
    assert len(rows) == 18 and all(agrees(row, expected[row["id"]]) for row in rows)


def test_make_graph_writes_a_page_and_prints_where(tmp_path: Path) -> None:
    words = _recipe("graph")
    assert words[-2:] == ["-o", "build/flow.html"]
    page = tmp_path / "flow.html"
    done = subprocess.run(
        [*words[:-1], str(page)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert str(page) in done.stdout and "browser" in done.stdout
    html = page.read_text(encoding="utf-8")
    assert '<pre class="mermaid">' in html and "stateDiagram-v2" in html and "mermaid" in html
