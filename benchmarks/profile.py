"""``python -m benchmarks.profile``: where the full path spends its time.

    python -m benchmarks.profile [--db sqlite|postgresql] [--updates N] [--stages]

Runs the real bot (the ``FullPath`` of the benchmarks: same stub, same traffic) on a fresh
database and warms it up. Then, by default, profiles ``--updates`` updates with pyinstrument
and prints its call tree (the HTML report goes to ``benchmarks/results/profile-<db>.html``).
With ``--stages`` it instead times each stage of an update (storage, engine, sending, ...)
with a clock around it, one update at a time, and prints microseconds per update beside the
floor's whole update: the table the README's performance section quotes (on PostgreSQL
also the round trips per update, counted on the wire, statement preparations left out).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyinstrument import Profiler
from telegram import CallbackQuery

from benchmarks.harness import DEFAULT_PG, Databases, FullPath, engine, floor_app, quiet_logging
from benchmarks.report import RESULTS
from benchmarks.traffic import Traffic, script
from bot import conversations
from bot.channels.telegram import handlers
from bot.engine import engine as engine_module
from bot.storage import store
from tests.storage.wire import RoundTrips

#: (label, owner, attribute, is a coroutine): the stages timed by ``--stages``, outermost
#: first. Nested stages are included in the ones around them.
STAGES: tuple[tuple[str, Any, str, bool], ...] = (
    ("handler: engine, storage, replies, log line", handlers.TelegramChannel, "_run", True),
    ("  conversation: load, engine, save", conversations.Conversations, "handle", True),
    ("    storage: open turn (read, decrypt)", store.TurnScope, "__aenter__", True),
    ("    engine step", engine_module.Engine, "handle", False),
    ("    storage: close turn (encrypt, write, commit)", store.TurnScope, "__aexit__", True),
    ("  replies (sendMessage)", handlers.TelegramChannel, "send", True),
    ("tap: edit the question to show the choice", handlers.TelegramChannel, "_mark_choice", True),
    ("tap: answer the callback query", CallbackQuery, "answer", True),
)


@contextmanager
def timed_stages() -> Iterator[dict[str, list[float]]]:
    """Wrap each stage of ``STAGES`` with a clock; yield label -> [seconds, calls]."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    saved = [(owner, name, getattr(owner, name)) for _label, owner, name, _co in STAGES]

    def clocked(label: str, fn: Callable[..., Any], coroutine: bool) -> Callable[..., Any]:
        clock = time.perf_counter
        if coroutine:

            @functools.wraps(fn)
            async def outer(*args: Any, **kwargs: Any) -> Any:
                started = clock()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    entry = totals[label]
                    entry[0] += clock() - started
                    entry[1] += 1

            return outer

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                entry = totals[label]
                entry[0] += clock() - started
                entry[1] += 1

        return inner

    for (label, owner, name, coroutine), (_o, _n, original) in zip(STAGES, saved, strict=True):
        setattr(owner, name, clocked(label, original, coroutine))
    try:
        yield totals
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


async def _full_path(kind: str, pg_url: str) -> tuple[Databases, FullPath, Traffic]:
    quiet_logging("INFO")
    dbs = Databases(kind, pg_url)
    traffic = Traffic(script(engine()))
    full = await FullPath.open(await dbs.new("profile"))
    return dbs, full, traffic


async def profile(kind: str, updates: int, concurrency: int, pg_url: str) -> Profiler:
    """Profile ``updates`` updates of the full path on a fresh ``kind`` database."""
    dbs, full, traffic = await _full_path(kind, pg_url)
    try:
        await full.run(traffic.stream(max(500, updates // 5)), concurrency)
        stream = traffic.stream(updates)
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        run = await full.run(stream, concurrency)
        profiler.stop()
    finally:
        await full.close()
        await dbs.close()
    if run.errors:
        raise RuntimeError(f"{len(run.errors)} updates failed, e.g. {run.errors[0]}")
    print(f"{run.updates} updates in {run.seconds:.2f} s under the profiler; calls {run.calls}")
    return profiler


async def stages(kind: str, updates: int, pg_url: str) -> str:
    """Time each stage, one update at a time; return the table."""
    dbs, full, traffic = await _full_path(kind, pg_url)
    try:
        await full.run(traffic.stream(max(500, updates // 5)), 1)
        stream = traffic.stream(updates)
        trips = RoundTrips(full.store) if kind == "postgresql" else None
        with timed_stages() as totals:
            run = await full.run(stream, 1)
        wire = None if trips is None else await trips.settled()
        floor, floor_driver = await floor_app()
        await floor_driver.run(traffic.stream(max(500, updates // 5)), 1)
        floor_run = await floor_driver.run(traffic.stream(updates), 1)
        await floor.shutdown()
    finally:
        await full.close()
        await dbs.close()
    if run.errors:
        raise RuntimeError(f"{len(run.errors)} updates failed, e.g. {run.errors[0]}")
    per = 1e6 / run.updates
    lines = [
        f"{kind}: {run.updates} updates, one at a time; Bot API calls {dict(run.calls)}",
        f"{'stage':52} {'us/update':>10} {'calls':>7}",
        f"{'whole update, full path':52} {run.seconds * per:10.0f} {run.updates:7}",
    ]
    for label, *_rest in STAGES:
        seconds, calls = totals.get(label, [0.0, 0])
        lines.append(f"{label:52} {seconds * per:10.0f} {int(calls):7}")
    floor_per = floor_run.seconds * 1e6 / floor_run.updates
    lines.append(f"{'whole update, floor (PTB alone, one reply)':52} {floor_per:10.0f}")
    if wire is not None:
        lines.append(f"PostgreSQL round trips per update, on the wire: {wire / run.updates:.2f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--updates", type=int, default=5_000)
    p.add_argument("--concurrency", type=int, default=64, help="for the profile (not --stages)")
    p.add_argument("--stages", action="store_true", help="time each stage instead of profiling")
    p.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG))
    args = p.parse_args()
    if args.stages:
        print(asyncio.run(stages(args.db, args.updates, args.pg)))
        return
    profiler = asyncio.run(profile(args.db, args.updates, args.concurrency, args.pg))
    print(profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"profile-{args.db}.html"
    out.write_text(profiler.output_html())
    print(f"HTML report: {out}")


if __name__ == "__main__":
    main()
