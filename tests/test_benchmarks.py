"""The benchmark runner keeps working: its smoke run produces every figure, as numbers.

No timing is asserted here: performance is judged by the runner's own figures (README,
Performance), never by a test that passes or fails on a shared machine's speed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("floor", "full_path", "latency", "memory", "scale", "replay", "burst")


def run(*args: str, results: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <args>`` from the project root, writing its results under ``results``
    (never into the source tree); fail with its error output."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "BENCHMARK_RESULTS": str(results)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_smoke_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    folder = tmp_path / "results"
    done = run("benchmarks", "--smoke", "--json", str(out), results=folder)
    result = json.loads(out.read_text(encoding="utf-8"))
    for name in FIGURES:
        assert name in done.stdout.replace(" ", "_"), f"{name} missing from the table"
    machine = result["machine"]
    assert machine["cores"] and machine["cpu"] and machine["python_telegram_bot"]
    assert "sqlite" in result["backends"]
    if os.environ.get("CI") == "true" or os.environ.get("TEST_POSTGRES_URL"):
        assert "postgresql" in result["backends"], result["skipped"]
    for name in FIGURES:
        results = result["figures"][name]["results"]
        wanted = ["process"] if name == "replay" else result["backends"]
        assert sorted(results) == sorted(wanted), name
        for backend, figure in results.items():
            where = f"{name} on {backend}"
            value = figure["value"]
            assert isinstance(value, int | float) and not isinstance(value, bool), where
            assert math.isfinite(value), where
            assert figure["met"] in (True, False, None), where
    full = result["figures"]["full_path"]["results"]
    for backend, figure in full.items():
        assert figure["replies_checked_committed"] > 0, backend
    smoke = folder / "smoke.json"  # latest.json is for real runs
    assert json.loads(smoke.read_text(encoding="utf-8"))["when"] == result["when"]
    assert sorted(p.name for p in folder.iterdir()) == ["smoke.json"]

    readme_table = run("benchmarks.report", str(out), results=folder).stdout
    assert f"Measured {result['when']}" in readme_table
    for name in FIGURES:
        assert f"| {name.replace('_', ' ')} |" in readme_table, f"{name} missing from Markdown"


def test_the_stage_timer_accounts_for_every_stage(tmp_path: Path) -> None:
    done = run("benchmarks.profile", "--stages", "--updates", "150", results=tmp_path)
    rows = {line[:52].strip(): line[52:].split() for line in done.stdout.splitlines()[2:]}
    whole = float(rows["whole update, full path"][0])
    for stage in ("storage: open turn (read, decrypt)", "engine step", "replies (sendMessage)"):
        assert 0 < float(rows[stage][0]) < whole, stage
    assert float(rows["whole update, floor (PTB alone, one reply)"][0]) > 0


def test_the_wake_cost_probe_splits_waiting_from_work(tmp_path: Path) -> None:
    pg = [] if os.environ.get("TEST_POSTGRES_URL") else ["--no-pg"]
    args = ("--updates", "120", "--rounds", "1", "--pause-ms", "2", *pg)
    done = run("benchmarks.waking", *args, results=tmp_path)
    rows = {line[:38].strip(): line[38:].split() for line in done.stdout.splitlines()[2:]}
    wall, waiting, cpu, wakeups = map(float, rows["SQLite"])
    assert wakeups < 0.5 and waiting < cpu  # a SQLite turn runs inline: no wait per update
    wall, waiting, cpu, wakeups = map(float, rows["SQLite + 2 ms pause per update"])
    assert waiting >= 2_000 and wakeups >= 1 and cpu > 0  # one idle sleep per update
    assert wall > waiting
    if not pg:
        wall, waiting, cpu, wakeups = map(float, rows["PostgreSQL"])
        assert waiting > 0 and wakeups >= 2  # at least the turn's two round trips
