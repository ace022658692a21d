"""The outbox worker is woken when something is queued, instead of waiting for its poll.

Every test here makes the poll interval 30 seconds and waits at most a few seconds for the
delivery: only the wake can deliver in time. In one process every ``Store`` on a database
shares the listeners; across processes on PostgreSQL the enqueuing commit sends ``NOTIFY
outbox`` and the worker's process LISTENs on a connection of its own, opened again when it
drops.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.channels.telegram.team import TeamOptions
from bot.config import Settings
from bot.storage import Store
from bot.storage.backends.listen import APPLICATION_NAME
from bot.storage.store import OutboxItem
from bot.team.cards import TeamTexts
from bot.team.outbox import OutboxWorker, Route, WorkerOptions
from bot.team.pacing import Pacer
from tests.fakebotapi import FakeBotAPI
from tests.running import TEAM_CHAT, RunningBot
from tests.storage.conftest import (  # noqa: F401  (fixtures: SQLite and PostgreSQL)
    backend,
    db_url,
    key,
    pg_fetch,
    pg_server,
    pg_session_db,
    sqlite_template,
)
from tests.team.conftest import card_for, fast_options, until
from tests.team.helpers import make_referral
from tests.web.conftest import Web, make_web

POLL = 30.0  # seconds: longer than any deadline below
DEADLINE = 5.0
PROBE = "probe_card"  # a kind of the test's own route


@pytest.fixture
def options() -> TeamOptions:
    return fast_options(poll_interval=POLL)


async def test_a_card_edit_queued_by_the_console_wakes_the_worker(
    team_bot: RunningBot, fake: FakeBotAPI, store: Store, settings: Settings
) -> None:
    # the referral's card is queued in the patient's turn: the turn's commit wakes the worker
    ref = await make_referral(store, 7401)
    card = await card_for(fake, ref, timeout=DEADLINE)
    english = settings.model_copy(update={"team_language": "en"})
    web: Web = make_web(store, english, lambda: datetime.now(UTC))
    try:
        await web.coordinator("wei")
        page = await web.client.get(f"/referrals/{ref}")
        done = await web.post(f"/referrals/{ref}/status", page, action="contacted", expected="new")
        assert done.status_code == 200
    finally:
        await web.client.aclose()

    def edited() -> bool:
        return any(
            c.params.get("message_id") == card.message_id and c.status == 200
            for c in fake.calls_to("editMessageText")
        )

    await until(edited, DEADLINE, "the card edit, well before the poll")
    assert TeamTexts("zh-Hans").status("contacted") in fake.message(TEAM_CHAT, card.message_id).text


class Probe:
    """A worker with one route of the test's own kind, recording what it delivers."""

    def __init__(self, store: Store) -> None:
        self.delivered: list[str] = []
        route = Route("probe", Pacer(1000, 1.0), PROBE, (), self._handle, self._digest)
        options = WorkerOptions(poll_interval=POLL, backoff_base=0.05, backoff_cap=0.5)
        self.worker = OutboxWorker(
            store, None, TeamTexts("en"), team_pacer=None, routes=[route], options=options
        )
        self.task: asyncio.Task[None] | None = None
        self.claims = 0
        claim = store.claim_outbox

        async def counted(*args: Any, **kwargs: Any) -> list[OutboxItem]:
            found = await claim(*args, **kwargs)
            self.claims += 1
            return found

        store.claim_outbox = counted  # type: ignore[method-assign]

    async def _handle(self, item: OutboxItem) -> None:
        self.delivered.append(item.dedupe_key)

    async def _digest(self, refs: list[str]) -> None:
        raise AssertionError("no burst here")

    async def __aenter__(self) -> Probe:
        self.task = asyncio.create_task(self.worker.run())
        # after its first claim (nothing due) the lane idles: only a wake or the poll ends it
        await until(lambda: self.claims, DEADLINE, "the lane's first claim")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.worker.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)

    async def delivers(self, dedupe: str) -> None:
        await until(lambda: dedupe in self.delivered, DEADLINE, f"{dedupe}, before the poll")


@pytest.fixture
async def stores(db_url: str, key: str) -> AsyncIterator[tuple[Store, Store]]:  # noqa: F811
    settings = Settings(database_url=db_url, data_encryption_key=key, _env_file=None)
    first, second = await Store.open(settings), await Store.open(settings)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_an_item_queued_through_another_store_of_the_process_wakes_the_worker(
    stores: tuple[Store, Store],
) -> None:
    worker_store, console_store = stores
    async with Probe(worker_store) as probe:
        assert await console_store.enqueue(PROBE, "p:1", {"ref": "x"})
        await probe.delivers("p:1")


def enqueue_elsewhere(url: str, key: str, dedupe: str) -> None:  # noqa: F811
    """Queue an item from another process, as ``python -m bot web`` would."""
    script = (
        "import asyncio\n"
        "from bot.config import Settings\n"
        "from bot.storage import Store\n"
        "async def main():\n"
        f"    s = Settings(database_url={url!r}, data_encryption_key={key!r}, _env_file=None)\n"
        "    store = await Store.open(s)\n"
        f"    assert await store.enqueue({PROBE!r}, {dedupe!r}, {{'ref': 'x'}})\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOT_")}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)


async def listeners(url: str) -> list[int]:
    """The server pids of this database's outbox listeners."""
    rows = await pg_fetch(
        url,
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = "
        "current_database()",
        APPLICATION_NAME,
    )
    return [row["pid"] for row in rows]


@dataclass
class Remote:
    """A worker on PostgreSQL with its LISTEN connection up, and another process's enqueue."""

    probe: Probe
    url: str
    key: str
    listener: int  # the server pid of the worker's LISTEN connection

    async def enqueue_elsewhere(self, dedupe: str) -> None:
        await asyncio.to_thread(enqueue_elsewhere, self.url, self.key, dedupe)


@pytest.fixture
async def remote(
    stores: tuple[Store, Store],
    db_url: str,  # noqa: F811
    key: str,  # noqa: F811
) -> AsyncIterator[Remote]:
    async with Probe(stores[0]) as probe:
        [pid] = await until_async(lambda: listeners(db_url), "the LISTEN connection")
        yield Remote(probe, db_url, key, pid)


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_another_process_wakes_the_worker_through_notify(remote: Remote) -> None:
    await remote.enqueue_elsewhere("p:remote")
    await remote.probe.delivers("p:remote")


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_dropped_listen_connection_is_opened_again(remote: Remote) -> None:
    await pg_fetch(remote.url, "SELECT pg_terminate_backend($1)", remote.listener)

    async def replaced() -> list[int]:
        return [pid for pid in await listeners(remote.url) if pid != remote.listener]

    await until_async(replaced, "a new LISTEN connection")
    await remote.enqueue_elsewhere("p:after-drop")
    await remote.probe.delivers("p:after-drop")


async def until_async(probe: object, what: str, timeout: float = 10.0) -> list[int]:
    """Wait until the coroutine function ``probe`` returns a non-empty list."""
    assert callable(probe)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found: list[int] = await probe()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.05)
