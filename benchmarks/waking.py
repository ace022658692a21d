"""``python -m benchmarks.waking``: what waiting does to the CPU cost of an update.

    python -m benchmarks.waking [--updates 2000] [--rounds 3] [--pause-ms 0.5] [--no-pg]

Runs the full path (the ``FullPath`` of the benchmarks), one update at a time, in three ways,
round after round so that the machine's drift falls on all three alike:

- **SQLite**: a turn never waits (SQLite runs inline), so the event loop never sleeps;
- **SQLite + pause**: the same, with an idle ``asyncio.sleep`` of ``--pause-ms`` before each
  turn: the process sleeps once per update and does exactly the same work;
- **PostgreSQL**: the turn's round trips, where the process sleeps while the server works.

For each it reports, per update, the wall time, the time the event loop spent waiting in its
selector (``epoll``), and the CPU time the process used outside that wait. On a machine where
the last figure rises with the pause, an update's own work costs more after the process has
slept (caches and core handed over meanwhile), which no change to the bot's code removes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import selectors
import statistics
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import DEFAULT_PG, Databases, FullPath, engine, quiet_logging
from benchmarks.traffic import Traffic, script
from bot.storage import store


@dataclass
class Waits:
    """Time spent in the selector, in seconds: wall and CPU."""

    wall: float = 0.0
    cpu: float = 0.0
    calls: int = 0


@contextmanager
def counted_waits() -> Iterator[Waits]:
    """Count the event loop's time in ``select`` (the default selector on Linux: epoll)."""
    waits = Waits()
    cls: Any = selectors.DefaultSelector
    original = cls.select

    def select(self: Any, timeout: float | None = None) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return original(self, timeout)
        finally:
            waits.wall += time.perf_counter() - started
            waits.cpu += time.process_time() - cpu
            waits.calls += 1

    cls.select = select
    try:
        yield waits
    finally:
        cls.select = original


@contextmanager
def paused_turns(seconds: float) -> Iterator[None]:
    """Sleep ``seconds`` before each turn opens (an idle wait, no work)."""
    original = store.TurnScope.__aenter__

    async def enter(self: store.TurnScope) -> Any:
        await asyncio.sleep(seconds)
        return await original(self)

    store.TurnScope.__aenter__ = enter  # type: ignore[method-assign]
    try:
        yield
    finally:
        store.TurnScope.__aenter__ = original  # type: ignore[method-assign]


@dataclass
class Sample:
    """One run's figures, microseconds per update."""

    wall: float
    waiting: float
    cpu_outside: float
    wakeups: float


class Setup:
    """A warmed-up full path on one database, run again for each round."""

    def __init__(self, label: str, dbs: Databases, pause: float) -> None:
        self.label = label
        self.dbs = dbs
        self.pause = pause
        self.full: FullPath | None = None
        self.traffic = Traffic(script(engine()))

    async def open(self) -> None:
        self.full = await FullPath.open(await self.dbs.new("waking"))
        await self.run(max(500, len(self.traffic.steps) * 10))

    async def run(self, updates: int) -> Sample:
        assert self.full is not None
        stream = self.traffic.stream(updates)
        pausing: AbstractContextManager[None] = (
            paused_turns(self.pause) if self.pause else nullcontext()
        )
        with counted_waits() as waits, pausing:
            wall, cpu = time.perf_counter(), time.process_time()
            run = await self.full.run(stream, 1)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if run.errors:
            raise RuntimeError(f"{self.label}: {len(run.errors)} updates failed")
        per = 1e6 / run.updates
        outside = (cpu - waits.cpu) * per
        return Sample(wall * per, waits.wall * per, outside, waits.calls / run.updates)

    async def close(self) -> None:
        if self.full is not None:
            await self.full.close()


async def measure(updates: int, rounds: int, pause: float, pg_url: str | None) -> str:
    """Run every setup ``rounds`` times, alternating; return the table of medians."""
    quiet_logging("INFO")
    sqlite = Databases("sqlite")
    pg = Databases("postgresql", pg_url) if pg_url else None
    setups = [
        Setup("SQLite", sqlite, 0.0),
        Setup(f"SQLite + {pause * 1e3:g} ms pause per update", sqlite, pause),
    ]
    if pg is not None:
        setups.append(Setup("PostgreSQL", pg, 0.0))
    samples: dict[str, list[Sample]] = {s.label: [] for s in setups}
    try:
        for setup in setups:
            await setup.open()
        for _ in range(rounds):
            for setup in setups:
                samples[setup.label].append(await setup.run(updates))
    finally:
        for setup in setups:
            await setup.close()
        await sqlite.close()
        if pg is not None:
            await pg.close()

    def med(label: str, field: str) -> float:
        return float(statistics.median(getattr(s, field) for s in samples[label]))

    lines = [
        f"{updates} updates per run, one at a time, {rounds} rounds; medians, µs per update",
        f"{'run':38} {'wall':>7} {'waiting':>8} {'CPU outside waits':>18} {'wake-ups':>9}",
    ]
    for label in samples:
        lines.append(
            f"{label:38} {med(label, 'wall'):7.0f} {med(label, 'waiting'):8.0f} "
            f"{med(label, 'cpu_outside'):18.0f} {med(label, 'wakeups'):9.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.waking", description=__doc__)
    p.add_argument("--updates", type=int, default=2_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pause-ms", type=float, default=0.5)
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG))
    args = p.parse_args()
    pg_url = None if args.no_pg else args.pg
    print(asyncio.run(measure(args.updates, args.rounds, args.pause_ms / 1e3, pg_url)))


if __name__ == "__main__":
    main()
