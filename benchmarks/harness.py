"""The applications under test, the databases they use, and the driver that feeds them.

* ``floor_app``: python-telegram-bot alone, as ``ApplicationBuilder`` makes it by default, with
  one handler that sends one reply to whatever arrives.
* ``FullPath``: the real bot: ``build_application`` + ``register`` with the real
  ``TelegramChannel``, ``Conversations``, engine and ``Store``.

Both get the same ``StubRequest`` and the same driver: raw JSON -> ``json.loads`` ->
``Update.de_json`` -> the application's own update processor -> ``Application.process_update``,
which is what PTB's update fetcher does with each update it receives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import RequestData

from benchmarks.stub import TOKEN, StubRequest
from benchmarks.traffic import Item
from bot.channels.telegram.app import build_application, settle_heap
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.sendpace import SendLimiter, SendLimits, SendPacer
from bot.config import Settings
from bot.conversations import Conversations
from bot.engine.engine import Engine, load_engine
from bot.ratelimit import FloodGuard
from bot.storage import commands, db
from bot.storage.store import Store

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

# --------------------------------------------------------------------------- databases


class Databases:
    """Throwaway databases of one kind: SQLite files in a temporary folder, or PostgreSQL
    databases created on the server and dropped at the end."""

    def __init__(self, kind: str, pg_url: str = DEFAULT_PG) -> None:
        self.kind = kind  # "sqlite" | "postgresql"
        self.pg_url = pg_url
        self.key = commands.keygen()
        self._tmp = tempfile.mkdtemp(prefix="trialbot-bench-")
        self._created: list[str] = []
        self.notes: set[str] = set()  # what had to be worked around to measure at all

    async def new(self, label: str) -> Settings:
        """A migrated, empty database; its settings."""
        if self.kind == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(self._tmp) / f'{label}-{uuid.uuid4().hex[:6]}.db'}"
        else:
            name = f"trialbot_bench_{label}_{uuid.uuid4().hex[:6]}".replace("-", "_")
            conn = await pg_connect(self.pg_url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            self._created.append(name)
            url = db.parse_url(self.pg_url).set(database=name).render_as_string(hide_password=False)
        settings = Settings(
            telegram_bot_token=TOKEN,
            database_url=url,
            data_encryption_key=self.key,
            _env_file=None,  # type: ignore[call-arg]
        )
        await commands.upgrade(settings)
        return settings

    async def close(self) -> None:
        """Drop every database made here."""
        shutil.rmtree(self._tmp, ignore_errors=True)
        if not self._created:
            return
        conn = await pg_connect(self.pg_url)
        try:
            for name in self._created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def pg_connect(url: str, *, timeout: float = 10) -> Any:
    """A plain asyncpg connection to the database of a SQLAlchemy URL."""
    import asyncpg

    u = db.parse_url(url)
    return await asyncpg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database=u.database,
        timeout=timeout,
    )


async def pg_reachable(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        conn = await pg_connect(url, timeout=3)
    except Exception as exc:  # any failure means: run without PostgreSQL
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    await conn.close()
    return None


# --------------------------------------------------------------------------- driver


@dataclass
class Run:
    """What one stream did."""

    updates: int
    seconds: float
    latencies: list[float]
    calls: dict[str, int]
    errors: list[str]

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds


class Driver:
    """Feeds raw updates to an application, ``concurrency`` at a time, as PTB's fetcher does;
    keeps, per chat, the ids of the updates in progress (oldest first)."""

    def __init__(self, app: Application, stub: StubRequest) -> None:  # type: ignore[type-arg]
        self.app = app
        self.stub = stub
        self.in_flight: dict[int, deque[int]] = defaultdict(deque)
        self.errors: list[str] = []
        app.add_error_handler(self._on_error)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.errors.append(repr(context.error))

    async def run(self, stream: Sequence[Item], concurrency: int = 1) -> Run:
        app, in_flight = self.app, self.in_flight
        bot, processor = app.bot, app.update_processor
        de_json, loads, clock = Update.de_json, json.loads, time.perf_counter
        latencies = [0.0] * len(stream)
        items = iter(enumerate(stream))
        self.stub.reset()
        self.errors.clear()

        async def worker() -> None:
            for i, item in items:
                started = clock()
                update = de_json(loads(item.raw), bot)
                mine = in_flight[item.chat_id]
                mine.append(item.update_id)
                await processor.process_update(update, app.process_update(update))
                mine.remove(item.update_id)
                if not mine:  # hold nothing per chat between updates
                    del in_flight[item.chat_id]
                latencies[i] = clock() - started

        started = clock()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = clock() - started
        return Run(len(stream), seconds, latencies, dict(self.stub.calls), list(self.errors))


# --------------------------------------------------------------------------- the floor


async def _reply_once(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, "Thank you, noted.")


async def floor_app() -> tuple[Application, Driver]:  # type: ignore[type-arg]
    """PTB alone: the default application, one handler, one reply per update."""
    stub = StubRequest()
    app = ApplicationBuilder().token(TOKEN).request(stub).get_updates_request(stub).build()
    app.add_handler(TypeHandler(Update, _reply_once))
    await app.initialize()
    return app, Driver(app, stub)


# --------------------------------------------------------------------------- the full path


_ENGINE: Engine | None = None


def engine() -> Engine:
    """The flow's engine, built once per process (as the bot does)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = load_engine("nct06751199")
    return _ENGINE


@dataclass
class FullPath:
    """The real bot on one database, with the stub as its network."""

    settings: Settings
    store: Store
    app: Application  # type: ignore[type-arg]
    driver: Driver
    stub: StubRequest
    check: CommitCheck | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def open(cls, settings: Settings, *, check_every: int = 0) -> FullPath:
        store = await Store.open(settings)
        conversations = Conversations(
            engine(),
            store,
            email_handoff=bool(settings.handoff_email),
            wecom_handoff=settings.wecom_robot_key is not None,
        )
        # Scripted users answer far faster than people: lift the per-person flood limit.
        channel = TelegramChannel(
            conversations, settings.study_team_chat_id, FloodGuard(rate=1e6, burst=1_000_000)
        )
        stub = StubRequest()
        app = build_application(settings, channel, request=stub)
        lift_overall_throttle(app)
        await app.initialize()
        settle_heap()  # as serve() does once the bot is up
        full = cls(settings, store, app, Driver(app, stub), stub)
        if check_every:
            full.check = await CommitCheck.open(full, check_every)
        return full

    async def run(self, stream: Sequence[Item], concurrency: int) -> Run:
        return await self.driver.run(stream, concurrency)

    async def close(self) -> None:
        if self.check is not None:
            await self.check.close()
        await self.app.shutdown()
        await self.store.close()


def lift_overall_throttle(app: Application) -> None:  # type: ignore[type-arg]
    """Keep the send pacer in the path but without Telegram's limits (30 messages a second,
    one a second per chat), which are Telegram's allowance, not the bot's cost: with them,
    every figure here would read 30 messages a second."""
    limiter = app.bot.rate_limiter
    if not isinstance(limiter, SendLimiter):
        raise RuntimeError("the send pacer changed: cannot lift Telegram's limits")
    unlimited = SendLimits(per_second=1e9, chat_interval=0.0, group_per_minute=10**9)
    limiter.pacer = SendPacer(unlimited)


class CommitCheck:
    """On a sample of replies, looks in the database from a separate connection (which sees
    only committed data) for the update being answered: it must be marked processed and be
    the conversation's last applied update."""

    def __init__(self, full: FullPath, every: int) -> None:
        self.full = full
        self.checked = 0
        self.failures: list[int] = []
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None
        self._pg_lock = asyncio.Lock()
        full.stub.hook = self
        full.stub.hook_every = every

    @classmethod
    async def open(cls, full: FullPath, every: int) -> CommitCheck:
        check = cls(full, every)
        url = db.parse_url(full.settings.database_url)
        if db.is_sqlite(url):
            path = db.sqlite_file(url)
            check._sqlite = sqlite3.connect(str(path), isolation_level=None)
        else:
            check._pg = await pg_connect(full.settings.database_url)
        return check

    async def __call__(self, endpoint: str, request_data: RequestData) -> None:
        chat_id = int(request_data.parameters["chat_id"])  # type: ignore[arg-type]
        update_id = self.full.driver.in_flight[chat_id][0]
        user_hash = self.full.store.user_hash(f"tg:{chat_id}")
        sql = (
            "SELECT c.last_update_id, (SELECT count(*) FROM processed_updates p "
            "WHERE p.update_id = {u}) FROM conversations c WHERE c.user_hash = {h}"
        )
        if self._sqlite is not None:
            rows = self._sqlite.execute(sql.format(u="?", h="?"), (update_id, user_hash))
            row = rows.fetchall()
        else:
            async with self._pg_lock:  # one connection: one query at a time
                row = await self._pg.fetch(sql.format(u="$1", h="$2"), update_id, user_hash)
        self.checked += 1
        if not row or row[0][0] != update_id or row[0][1] != 1:
            self.failures.append(update_id)

    def verify(self) -> None:
        if self.failures:
            raise AssertionError(
                f"{len(self.failures)} of {self.checked} sampled replies were sent before "
                f"their update was committed (e.g. update {self.failures[0]})"
            )

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()


def quiet_logging(level: str) -> None:
    """Log as ``python -m bot run`` does (same level, format and library caps), into
    /dev/null: the per-update log line is part of the cost."""
    from bot.logs import cap_libraries

    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    cap_libraries()
