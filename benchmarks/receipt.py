"""Cost per update of durable receipt: storing updates in the inbox, then marking them done.

    .venv/bin/python -m benchmarks.receipt [--updates 2000] [--batch 1] [--pg URL]

Every update the bot receives costs two extra writes: the batch it came in is stored in one
transaction before getUpdates confirms it (``Inbox.receive``), and the update is marked done
after its replies (``Inbox.done``). This times both, per update, on SQLite (a temporary file)
and, when reachable, on PostgreSQL (a throwaway database), for batches of ``--batch`` updates
(1 is the worst case: a quiet bot receives one update per getUpdates call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

from benchmarks.harness import DEFAULT_PG, Databases, pg_reachable
from bot.storage.inbox import Inbox
from bot.storage.store import Store


def sample_update(update_id: int) -> dict[str, Any]:
    """A Telegram text message update of the usual size."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_764_000_000,
            "chat": {"id": 8001, "type": "private", "first_name": "Li"},
            "from": {"id": 8001, "is_bot": False, "first_name": "Li", "language_code": "zh-hans"},
            "text": "我今年45岁",
        },
    }


async def measure(kind: str, updates: int, batch: int, pg_url: str) -> dict[str, float]:
    """Median and 90th percentile (ms per update) of receive and done on one database."""
    databases = Databases(kind, pg_url)
    try:
        store = await Store.open(await databases.new("receipt"))
        inbox = Inbox(store)
        received: list[float] = []
        done: list[float] = []
        try:
            for start in range(1, updates + 1, batch):
                ids = range(start, min(start + batch, updates + 1))
                began = time.perf_counter()
                await inbox.receive([(i, sample_update(i)) for i in ids])
                received.append((time.perf_counter() - began) * 1000 / len(ids))
                for update_id in ids:
                    began = time.perf_counter()
                    await inbox.done(update_id)
                    done.append((time.perf_counter() - began) * 1000)
        finally:
            await store.close()
    finally:
        await databases.close()
    both = [r + d for r, d in zip(received, done[::batch], strict=False)]
    return {
        "receive_ms": statistics.median(received),
        "done_ms": statistics.median(done),
        "per_update_ms": statistics.median(received) + statistics.median(done),
        "per_update_p90_ms": statistics.quantiles(both, n=10)[-1] if len(both) > 9 else max(both),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    results = {"sqlite": await measure("sqlite", args.updates, args.batch, args.pg)}
    problem = await pg_reachable(args.pg)
    if problem is None:
        results["postgresql"] = await measure("postgresql", args.updates, args.batch, args.pg)
    else:
        print(f"PostgreSQL skipped: {problem}")
    print(f"durable receipt, {args.updates} updates in batches of {args.batch} (ms per update)")
    print("| database | receive | done | both (median) | both (p90) |")
    print("|---|---|---|---|---|")
    for kind, r in results.items():
        print(
            f"| {kind} | {r['receive_ms']:.2f} | {r['done_ms']:.2f} | "
            f"{r['per_update_ms']:.2f} | {r['per_update_p90_ms']:.2f} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    asyncio.run(main())
