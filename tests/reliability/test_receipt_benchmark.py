"""The durable-receipt benchmark keeps working (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_receipt_benchmark_reports_the_cost_per_update(tmp_path: Path) -> None:
    out = tmp_path / "receipt.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.receipt", "--updates", "30", "--json", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["sqlite"]["per_update_ms"] > 0
    assert "| sqlite |" in done.stdout
