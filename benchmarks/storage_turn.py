"""Cost of one storage turn: load the record, save it, add one answer, commit.

    .venv/bin/python benchmarks/storage_turn.py [--turns 3000] [--users 200] [--pg URL]

Runs on SQLite (a temporary file, WAL, synchronous=NORMAL) and, when reachable, on PostgreSQL
(``--pg``, else TEST_POSTGRES_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/test; a
throwaway database is created and dropped). Reports the median and 90th percentile of one
turn run alone, and the throughput of 50 patients writing concurrently. For comparison it also
times the same statements issued one by one through SQLAlchemy's aiosqlite engine, which is
what the store avoids.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.harness import pg_connect
from bot.config import Settings
from bot.engine.record import Answer, Conversation
from bot.storage import Store, commands, db
from bot.storage import models as m
from bot.storage.crypto import Crypto


def sample_record(i: int) -> dict[str, object]:
    conv = Conversation(flow_id="nct06751199", flow_version="2025-01", lang="zh-Hans", state="q7")
    for n in range(8):
        conv.answers[f"fact{n}"] = Answer(value=f"{60 + n}.5", raw=f"{120 + n}斤", unit="jin")
        conv.history.append(f"fact{n}")
    conv.source = "flyer"
    conv.retries = i % 2
    return conv.to_json()


async def one_turn(store: Store, user: int, update_id: int) -> None:
    async with store.turn(f"tg:{user}", update_id) as turn:
        record = turn.record or sample_record(user)
        record["retries"] = update_id % 3
        turn.save(record, chat_id=user)
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")


async def bench_store(settings: Settings, turns: int, users: int) -> dict[str, float]:
    await commands.upgrade(settings)
    store = await Store.open(settings)
    try:
        update_id = 1
        for user in range(users):  # create the conversations first
            await one_turn(store, user, update_id)
            update_id += 1
        times = []
        for i in range(turns):
            t0 = time.perf_counter()
            await one_turn(store, i % users, update_id)
            times.append(time.perf_counter() - t0)
            update_id += 1
        times.sort()

        async def patient(user: int, count: int, first_id: int) -> None:
            for k in range(count):
                await one_turn(store, user, first_id + k)

        per = max(1, turns // 50)
        t0 = time.perf_counter()
        await asyncio.gather(*(patient(u, per, update_id + u * per) for u in range(50)))
        elapsed = time.perf_counter() - t0
        return {
            "median_us": statistics.median(times) * 1e6,
            "p90_us": times[int(len(times) * 0.9)] * 1e6,
            "concurrent_turns_per_s": 50 * per / elapsed,
        }
    finally:
        await store.close()


def bench_crypto(turns: int) -> float:
    """The part of a turn that is not the database: decrypt and parse the record, dump and
    encrypt it again, encrypt the answer's words."""
    crypto = Crypto(commands.keygen())
    token = crypto.encrypt(json.dumps(sample_record(1)))
    times = []
    for _ in range(turns):
        t0 = time.perf_counter()
        record = json.loads(crypto.decrypt(token))
        crypto.encrypt(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        crypto.encrypt("130斤")
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


async def bench_pg_floor(url: str, rounds: int = 300) -> tuple[float, float]:
    """What PostgreSQL itself costs here: one round trip, and one committed one-row write."""
    conn = await pg_connect(url)
    try:
        await conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY, v text)")
        await conn.execute("INSERT INTO t VALUES (1, 'x')")
        trips, commits = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await conn.fetchval("SELECT 1")
            trips.append(time.perf_counter() - t0)
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id int PRIMARY KEY, v text)")
        await conn.execute("INSERT INTO bench_commit VALUES (1, 'x') ON CONFLICT DO NOTHING")
        for i in range(rounds):
            t0 = time.perf_counter()
            await conn.execute("UPDATE bench_commit SET v = $1 WHERE id = 1", str(i))
            commits.append(time.perf_counter() - t0)
        return statistics.median(trips) * 1e6, statistics.median(commits) * 1e6
    finally:
        await conn.close()


async def bench_naive_aiosqlite(path: Path, turns: int, users: int) -> float:
    """The same turn as separate awaited statements through the aiosqlite engine."""
    url = db.parse_url(f"sqlite+aiosqlite:///{path}")
    engine: AsyncEngine = db.create_async(url)
    c = m.conversations
    rows = min(users, 100)  # the conversations the turns cycle through
    try:
        times = []
        for i in range(turns):
            t0 = time.perf_counter()
            async with engine.begin() as conn:
                row = (
                    await conn.execute(
                        select(c.c.id, c.c.version, c.c.record_enc).where(c.c.id == 1 + i % rows)
                    )
                ).first()
                assert row is not None
                await conn.execute(
                    update(c)
                    .where(c.c.id == row.id)
                    .values(version=c.c.version + 1, record_enc=row.record_enc)
                )
                await conn.execute(
                    insert(m.answers).values(
                        conversation_id=row.id,
                        fact="weight",
                        value_enc="x",
                        raw_enc="x",
                        unit="jin",
                        answered_at=datetime.now(UTC),
                    )
                )
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e6
    finally:
        await engine.dispose()


async def pg_database(base_url: str) -> tuple[str, str] | None:
    import asyncpg

    url = db.parse_url(base_url)
    name = f"trialbot_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await pg_connect(base_url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL not reachable ({exc}); skipped")
        return None
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def drop_pg(base_url: str, name: str) -> None:
    conn = await pg_connect(base_url)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def show(name: str, result: dict[str, float]) -> None:
    print(
        f"{name:<11} one turn: median {result['median_us']:7.0f} µs, p90 {result['p90_us']:7.0f} µs"
        f" | 50 patients at once: {result['concurrent_turns_per_s']:6.0f} turns/s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    key = commands.keygen()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{path}", data_encryption_key=key, _env_file=None
        )
        show("SQLite", await bench_store(settings, args.turns, args.users))
        naive = await bench_naive_aiosqlite(path, min(args.turns, 1000), args.users)
        print(f"{'':<11} the same turn as separate aiosqlite statements: median {naive:6.0f} µs")
        crypto = bench_crypto(1000)
        print(f"{'':<11} of a turn, Fernet and JSON alone:               median {crypto:6.0f} µs")
    created = await pg_database(args.pg)
    if created is not None:
        pg_url, name = created
        try:
            settings = Settings(database_url=pg_url, data_encryption_key=key, _env_file=None)
            show("PostgreSQL", await bench_store(settings, args.turns, args.users))
            trip, commit = await bench_pg_floor(pg_url)
            print(
                f"{'':<11} this server: one round trip {trip:5.0f} µs, "
                f"one autocommitted write {commit:5.0f} µs"
            )
        finally:
            await drop_pg(args.pg, name)


if __name__ == "__main__":
    asyncio.run(main())
