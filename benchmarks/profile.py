"""``python -m benchmarks.profile``: where the full path spends its time, with pyinstrument.

    python -m benchmarks.profile [--db sqlite|postgresql] [--updates N] [--concurrency N]

Runs the real bot (the ``FullPath`` of the benchmarks: same stub, same traffic) on a fresh
database, warms it up, then profiles ``--updates`` updates and prints pyinstrument's call tree.
The HTML report goes to ``benchmarks/results/profile-<db>.html``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from pyinstrument import Profiler

from benchmarks.harness import DEFAULT_PG, Databases, FullPath, engine, quiet_logging
from benchmarks.traffic import Traffic, script

RESULTS = Path(__file__).resolve().parent / "results"


async def profile(kind: str, updates: int, concurrency: int, pg_url: str) -> Profiler:
    """Profile ``updates`` updates of the full path on a fresh ``kind`` database."""
    quiet_logging("INFO")
    dbs = Databases(kind, pg_url)
    traffic = Traffic(script(engine()))
    try:
        full = await FullPath.open(await dbs.new("profile"))
        try:
            await full.run(traffic.stream(max(500, updates // 5)), concurrency)
            stream = traffic.stream(updates)
            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
            run = await full.run(stream, concurrency)
            profiler.stop()
        finally:
            await full.close()
    finally:
        await dbs.close()
    if run.errors:
        raise RuntimeError(f"{len(run.errors)} updates failed, e.g. {run.errors[0]}")
    print(f"{run.updates} updates in {run.seconds:.2f} s under the profiler; calls {run.calls}")
    return profiler


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--updates", type=int, default=5_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG))
    args = p.parse_args()
    profiler = asyncio.run(profile(args.db, args.updates, args.concurrency, args.pg))
    print(profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"profile-{args.db}.html"
    out.write_text(profiler.output_html())
    print(f"HTML report: {out}")


if __name__ == "__main__":
    main()
