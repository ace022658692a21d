"""Each figure of issue #8, measured on one kind of database.

Every function returns a plain dict: ``value`` (the headline number, or None when the figure
cannot be measured here, with ``reason``), ``met`` (True/False against the target, None for
figures without one) and the details behind the value.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import Databases, FullPath, Run, engine, floor_app, pg_connect
from benchmarks.traffic import Traffic
from bot.engine.record import Answer, Conversation
from bot.storage import db
from bot.storage.backends.sqlite import sqlite_time
from bot.storage.crypto import Crypto
from bot.storage.turns import dumps

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "data" / "examples"

TARGETS = {
    "floor": "baseline",
    "full_path": ">= 0.7 x floor (median ratio)",
    "latency": "p50 <= 1 ms, p99 <= 5 ms",
    "memory": "<= 2 KB per conversation",
    "scale": ">= 0.9",
    "replay": "reported",
    "burst": "all delivered, 0 flood errors",
    "campaign": "cap >= 95 % while queued, p95 wait <= 1.2 x ideal, 0 x 429, all completed",
}
FIGURES = tuple(TARGETS)


@dataclass
class Options:
    """Counts and switches for one run of the benchmarks."""

    rounds: int = 5
    updates: int = 10_000  # per round and per application
    concurrency: int = 64  # updates in progress at once (the bot's PerChatUpdateProcessor(64))
    latency_updates: int = 5_000
    check_every: int = 97  # check the commit behind every n-th reply
    memory_users: int = 10_000
    scale_small: int = 1_000
    scale_large: int = 100_000
    scale_answers: int = 30  # answers stored per pre-filled conversation
    replay_files: int = 1_000
    burst: int = 500

    @classmethod
    def smoke(cls) -> Options:
        """Tiny counts: every figure is produced, none means anything (CI, < 30 s)."""
        return cls(
            rounds=1,
            updates=240,
            concurrency=16,
            latency_updates=120,
            check_every=5,
            memory_users=120,
            scale_small=100,
            scale_large=300,
            scale_answers=5,
            replay_files=20,
            burst=3,
        )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_pct(values, 0.50) * 1e3, 3),
        "p90_ms": round(_pct(values, 0.90) * 1e3, 3),
        "p99_ms": round(_pct(values, 0.99) * 1e3, 3),
        "max_ms": round(max(values) * 1e3, 3),
    }


def _checked(run: Run, label: str) -> Run:
    if run.errors:
        raise RuntimeError(f"{label}: {len(run.errors)} updates failed, e.g. {run.errors[0]}")
    sent = run.calls.get("sendMessage", 0)
    if sent < run.updates:
        raise RuntimeError(f"{label}: {sent} replies to {run.updates} updates")
    return run


# --------------------------------------------------------------------------- floor, full path


async def throughput(
    dbs: Databases, opts: Options, traffic: Traffic
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Floor and full path, alternating, ``rounds`` each; then the latency of the full path
    run one update at a time. Returns the floor, full-path and latency figures."""
    settings = await dbs.new("throughput")
    floor, floor_driver = await floor_app()
    full = await FullPath.open(settings, check_every=opts.check_every)
    try:
        warm = max(opts.updates // 5, len(traffic.steps))
        _checked(await floor_driver.run(traffic.stream(warm), opts.concurrency), "floor")
        _checked(await full.run(traffic.stream(warm), opts.concurrency), "full path")
        floors: list[float] = []
        fulls: list[float] = []
        loaded: list[float] = []
        calls: dict[str, int] = {}
        for _ in range(opts.rounds):
            a = _checked(
                await floor_driver.run(traffic.stream(opts.updates), opts.concurrency), "floor"
            )
            b = _checked(
                await full.run(traffic.stream(opts.updates), opts.concurrency), "full path"
            )
            floors.append(a.per_second)
            fulls.append(b.per_second)
            loaded.extend(b.latencies)
            calls = b.calls
        assert full.check is not None
        full.check.verify()
        checked = full.check.checked
        full.stub.hook_every = 0
        alone = _checked(await full.run(traffic.stream(opts.latency_updates), 1), "latency")
    finally:
        await full.close()
        await floor.shutdown()
    ratios = [b / a for a, b in zip(floors, fulls, strict=True)]
    ratio = statistics.median(ratios)
    per_update = {k: round(v / opts.updates, 2) for k, v in sorted(calls.items())}
    floor_fig = {
        "value": round(statistics.median(floors)),
        "unit": "updates/s",
        "met": None,
        "rounds": [round(x) for x in floors],
        "updates_per_round": opts.updates,
    }
    full_fig = {
        "value": round(ratio, 3),
        "unit": "x floor",
        "met": ratio >= 0.7,
        "updates_per_s": round(statistics.median(fulls)),
        "rounds": [round(x) for x in fulls],
        "ratios": [round(x, 3) for x in ratios],
        "concurrency": opts.concurrency,
        "bot_api_calls_per_update": per_update,
        "replies_checked_committed": checked,
        "latency_under_load": _ms(loaded),
    }
    lat = _ms(alone.latencies)
    latency_fig = {
        "value": lat["p50_ms"],
        "unit": "ms (p50)",
        "met": lat["p50_ms"] <= 1.0 and lat["p99_ms"] <= 5.0,
        **lat,
        "updates": opts.latency_updates,
        "note": "one update at a time, from raw JSON to the last reply handed to the stub",
    }
    return floor_fig, full_fig, latency_fig


# --------------------------------------------------------------------------- memory


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def memory(dbs: Databases, opts: Options, traffic: Traffic) -> dict[str, Any]:
    """What the process holds per conversation once ``memory_users`` people have each sent
    their first three updates (start, agree, an answer). Two measures: the growth of the
    resident set over the first people, untraced; and traced Python allocations (tracemalloc)
    over the last fifth, the marginal cost of a conversation near ``memory_users``. Tracing
    every allocation makes updates about five times slower, hence only the last fifth."""
    settings = await dbs.new("memory")
    full = await FullPath.open(settings)
    first = traffic.steps[:3]
    users = opts.memory_users
    traced_users = max(1, users // 5)
    untraced = users - traced_users
    try:
        warm = min(200, users // 4) * len(first)
        await full.run(traffic.stream(warm, steps=first), opts.concurrency)
        stream = traffic.stream(untraced * len(first), steps=first)
        gc.collect()
        rss0 = _rss()
        _checked(await full.run(stream, opts.concurrency), "memory (rss)")
        del stream
        gc.collect()
        rss_per = (_rss() - rss0) / untraced
        stream = traffic.stream(traced_users * len(first), steps=first)
        gc.collect()
        tracemalloc.start(1)
        try:
            before = tracemalloc.take_snapshot()
            base, _peak = tracemalloc.get_traced_memory()
            _checked(await full.run(stream, opts.concurrency), "memory (traced)")
            gc.collect()
            held, _peak = tracemalloc.get_traced_memory()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    finally:
        await full.close()
    per = (held - base) / traced_users
    top = [
        {"where": str(stat.traceback[0]), "bytes": stat.size_diff, "count": stat.count_diff}
        for stat in after.compare_to(before, "lineno")[:5]
        if stat.size_diff > 0
    ]
    return {
        "value": round(per),
        "unit": "bytes/conversation",
        "met": per <= 2048,
        "conversations": users,
        "traced_conversations": traced_users,
        "rss_bytes_per_conversation": round(rss_per),
        "largest_growth": top,
    }


# --------------------------------------------------------------------------- scale


def _stored_record() -> dict[str, Any]:
    conv = engine().new("en")
    conv.state = "done"
    for n, (fact, value) in enumerate(_facts()):
        conv.answers[fact] = Answer(value=value, raw=value if n % 3 == 0 else "")
        conv.history.append(fact)
    conv.outcome = {"outcome": "likely_eligible", "failed": [], "unknown": []}
    return Conversation.to_json(conv)


def _facts() -> list[tuple[str, str]]:
    return [(q.id, "no") for q in engine().flow.questions]


async def prefill(settings: Any, key: str, count: int, answers: int) -> None:
    """Store ``count`` finished conversations of other people, with ``answers`` answers each,
    by direct inserts (the record is encrypted once and shared: it is never read)."""
    crypto = Crypto(key)
    record = crypto.encrypt(dumps(_stored_record()))
    chat = crypto.encrypt("1")
    now = datetime.now(UTC)
    rows = [
        (crypto.lookup(f"tg:{9_000_000_000 + i}"), chat, record, 1_000_000_000 + i)
        for i in range(count)
    ]
    facts = [q.id for q in engine().flow.questions][: max(answers, 1)]
    url = db.parse_url(settings.database_url)
    no = crypto.encrypt("no")  # every seeded answer is "no"
    if db.is_sqlite(url):
        path = db.sqlite_file(url)
        conn = sqlite3.connect(str(path), isolation_level=None)
        t = sqlite_time(now)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO conversations (user_hash, chat_enc, flow_id, flow_version, lang, "
            "source, status, record_enc, version, last_update_id, created_at, updated_at) "
            "VALUES (?, ?, 'nct06751199', '1', 'en', '', 'finished', ?, 30, ?, ?, ?)",
            [(*r, t, t) for r in rows],
        )
        if answers:
            conn.executemany(
                "INSERT INTO answers (conversation_id, fact, value_enc, raw_enc, unit, "
                "answered_at) SELECT id, ?, ?, NULL, '', ? FROM conversations",
                [(fact, no, t) for fact in facts],
            )
        conn.executemany(
            "INSERT INTO processed_updates (update_id, at) VALUES (?, ?)", [(r[3], t) for r in rows]
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return
    conn = await pg_connect(settings.database_url)
    try:
        await conn.copy_records_to_table(
            "conversations",
            records=[
                (r[0], r[1], "nct06751199", "1", "en", "", "finished", r[2], 30, r[3], now, now)
                for r in rows
            ],
            columns=[
                "user_hash",
                "chat_enc",
                "flow_id",
                "flow_version",
                "lang",
                "source",
                "status",
                "record_enc",
                "version",
                "last_update_id",
                "created_at",
                "updated_at",
            ],
        )
        if answers:
            await conn.execute(
                "INSERT INTO answers (conversation_id, fact, value_enc, raw_enc, unit, "
                "answered_at) SELECT c.id, f.fact, $3, NULL, '', $2 FROM conversations c "
                "CROSS JOIN unnest($1::text[]) AS f(fact)",
                facts,
                now,
                no,
            )
        await conn.copy_records_to_table(
            "processed_updates", records=[(r[3], now) for r in rows], columns=["update_id", "at"]
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def scale(dbs: Databases, opts: Options, traffic: Traffic) -> dict[str, Any]:
    """Full-path throughput with ``scale_large`` stored conversations over the same with
    ``scale_small``, alternating, ``rounds`` each."""
    small_settings = await dbs.new("scale-small")
    large_settings = await dbs.new("scale-large")
    started = time.perf_counter()
    await prefill(small_settings, dbs.key, opts.scale_small, opts.scale_answers)
    await prefill(large_settings, dbs.key, opts.scale_large, opts.scale_answers)
    filled = time.perf_counter() - started
    small = await FullPath.open(small_settings)
    large = await FullPath.open(large_settings)
    try:
        warm = max(opts.updates // 5, len(traffic.steps))
        for full in (small, large):
            _checked(await full.run(traffic.stream(warm), opts.concurrency), "scale")
        smalls: list[float] = []
        larges: list[float] = []
        for _ in range(opts.rounds):
            a = _checked(await small.run(traffic.stream(opts.updates), opts.concurrency), "scale")
            b = _checked(await large.run(traffic.stream(opts.updates), opts.concurrency), "scale")
            smalls.append(a.per_second)
            larges.append(b.per_second)
    finally:
        await small.close()
        await large.close()
    ratios = [b / a for a, b in zip(smalls, larges, strict=True)]
    ratio = statistics.median(ratios)
    return {
        "value": round(ratio, 3),
        "unit": f"{opts.scale_large:,} / {opts.scale_small:,} stored",
        "met": ratio >= 0.9,
        "small_updates_per_s": [round(x) for x in smalls],
        "large_updates_per_s": [round(x) for x in larges],
        "ratios": [round(x, 3) for x in ratios],
        "stored_answers_per_conversation": opts.scale_answers,
        "prefill_seconds": round(filled, 1),
    }


# --------------------------------------------------------------------------- replay


def replay(opts: Options) -> dict[str, Any]:
    """Wall time of ``python -m bot replay`` on the example profiles repeated to
    ``replay_files`` files, checked against ``expected.jsonl``."""
    sources = sorted(EXAMPLES.glob("example-*.json"))
    expected = {}
    for line in (EXAMPLES / "expected.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        expected[row["id"]] = row
    tmp = Path(tempfile.mkdtemp(prefix="trialbot-replay-"))
    try:
        files = []
        for i in range(opts.replay_files):
            source = sources[i % len(sources)]
            target = tmp / f"{i:05d}-{source.name}"
            shutil.copyfile(source, target)
            files.append(str(target))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "replay", *files],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    wrong = [x for x in lines if expected.get(x.get("id")) != x]
    if done.returncode != 0 or len(lines) != opts.replay_files or wrong:
        raise RuntimeError(
            f"replay: exit {done.returncode}, {len(lines)} lines, {len(wrong)} unexpected; "
            f"{done.stderr.strip()[-300:]}"
        )
    return {
        "value": round(seconds, 3),
        "unit": "s",
        "met": None,
        "profiles": opts.replay_files,
        "ms_per_profile": round(seconds * 1000 / opts.replay_files, 3),
    }


# --------------------------------------------------------------------------- burst


async def burst(dbs: Databases, opts: Options, traffic: Traffic) -> dict[str, Any]:
    """``burst`` people finish a screening and are handed over at once; the real bot (its
    outbox worker, pacing and digest) delivers their referrals to the study team's group
    through the fake Bot API, with Telegram's group limit (20 messages a minute) enforced."""
    from benchmarks.stub import TOKEN
    from bot.channels.telegram.app import serve
    from bot.channels.telegram.team import TeamOptions
    from tests.fakebotapi import FakeBotAPI
    from tests.team.test_burst import delivered as delivered_refs

    team_chat = -1001234567890
    settings = await dbs.new("burst")
    full = await FullPath.open(settings)  # the handoffs, through the real path
    try:
        _checked(await full.run(traffic.stream(opts.burst * len(traffic.steps)), 16), "burst")
        made = len(await full.store.referrals())
    finally:
        await full.close()
    fake = FakeBotAPI(token=TOKEN, rate_limits=True, group_limit_per_minute=20)
    await fake.start()
    fake.add_group(team_chat, "Study team")
    settings = settings.model_copy(
        update={"telegram_base_url": fake.base_url, "study_team_chat_id": team_chat}
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    limit = 120 + opts.burst * 60 / 20 * 1.5
    try:
        task = asyncio.create_task(serve(settings, stop, TeamOptions()))
        while time.perf_counter() - started < limit and not task.done():
            if sum(delivered_refs(fake).values()) >= made:
                break
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - started
        stop.set()
        await asyncio.wait_for(task, 60)
        seen = delivered_refs(fake)
    finally:
        await fake.stop()
    delivered = sum(seen.values())
    return {
        "value": round(seconds, 1),
        "unit": "s",
        "met": delivered == made == opts.burst and len(seen) == made and fake.flood_errors == 0,
        "available": True,
        "handoffs": made,
        "delivered": delivered,
        "duplicates": delivered - len(seen),
        "team_messages": len(fake.messages(team_chat)),
        "flood_errors": fake.flood_errors,
    }
