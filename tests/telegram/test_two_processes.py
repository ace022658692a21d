"""Two bot processes, one PostgreSQL database, one webhook address (a round-robin proxy).

Every person's answers are applied in order, nothing is handled twice, and every referral
card reaches the team once, while the proxy alternates the updates between the processes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tornado.httpserver
import tornado.web

from bot.config import Settings
from bot.storage.commands import keygen, upgrade
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.reliability.test_crash import _flow_order as flow_order
from tests.storage.conftest import pg_admin, pg_server, with_database
from tests.telegram.conftest import Person
from tests.telegram.test_webhook import free_port

__all__ = ["pg_server"]  # the fixture
ROOT = Path(__file__).resolve().parents[2]
TEAM = -1009876543210
SECRET = "two-processes-secret"
HANDOFF = ("yes", "contact", "Li Lei", "skip", "morning", "en")


class RoundRobin(tornado.web.RequestHandler):
    """Forward each POST to the next backend in turn, answering what it answered."""

    def initialize(
        self, backends: Iterator[str], client: httpx.AsyncClient, log: list[str]
    ) -> None:
        self.backends = backends
        self.client = client
        self.log = log

    async def post(self) -> None:
        backend = next(self.backends)
        self.log.append(backend)
        headers = {k: v for k, v in self.request.headers.items() if k.lower().startswith("x-")}
        try:
            response = await self.client.post(
                backend + self.request.path, content=self.request.body, headers=headers
            )
            self.set_status(response.status_code)
        except httpx.HTTPError:
            self.set_status(502)  # Telegram sends it again


@pytest.fixture
def database(pg_server: str) -> Iterator[str]:
    name = f"trialbot_two_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(pg_server, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(pg_server, name)
    finally:
        asyncio.run(pg_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def start_process(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATA_", "DATABASE_"))
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_two_processes_behind_one_address(database: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database, data_encryption_key=keygen(), _env_file=None)  # type: ignore[call-arg]
    await upgrade(settings)
    proxy_port, ports = free_port(), [free_port(), free_port()]
    routed: list[str] = []
    async with FakeBotAPI() as fake, httpx.AsyncClient(timeout=30) as client:
        fake.add_group(TEAM, "Study team", members=[777])
        public = "https://bot.test/telegram"  # what Telegram is told; TLS ends at the proxy
        fake.tls_terminated[public] = f"http://127.0.0.1:{proxy_port}/telegram"
        backends = itertools.cycle([f"http://127.0.0.1:{p}" for p in ports])
        app = tornado.web.Application(
            [(r"/.*", RoundRobin, {"backends": backends, "client": client, "log": routed})]
        )
        proxy = tornado.httpserver.HTTPServer(app)
        proxy.listen(proxy_port, address="127.0.0.1")
        common = {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_BASE_URL": fake.base_url,
            "DATABASE_URL": database,
            "DATA_ENCRYPTION_KEY": settings.data_encryption_key.get_secret_value(),  # type: ignore[union-attr]
            "STUDY_TEAM_CHAT_ID": str(TEAM),
            "FLOOD_BURST": "1000",
            "LOG_LEVEL": "WARNING",
            "WEBHOOK_URL": public,
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_LISTEN": "127.0.0.1",
        }
        mark = len(fake.calls)
        processes = [
            await start_process({**common, "WEBHOOK_PORT": str(port)}, tmp_path) for port in ports
        ]
        try:
            await fake.wait_for_call("setWebhook", timeout=30, since=mark)
            await _until_both_listen(client, ports)
            people = [Person(fake, 8800 + i, "en", name="Li Lei") for i in range(3)]
            for person in people:
                await person.command("/start")
                await person.tap("agree")
            for question in flow_order():  # the people's answers interleaved
                for person in people:
                    await person.answer(ELIGIBLE_EN[question])
            codes = [await _hand_over(fake, person) for person in people]
            for code in codes:
                await fake.wait_for(
                    lambda m, c=code: m.chat_id == TEAM and c in m.text, timeout=30, since=0
                )
            await fake.wait_idle(quiet=0.5, timeout=30)
        finally:
            for process in processes:
                if process.returncode is None:
                    process.terminate()
            for process in processes:
                await asyncio.wait_for(process.wait(), 30)
            proxy.stop()

    assert len(set(routed)) == 2, "the proxy used both processes"
    for code in codes:
        assert len([m for m in fake.messages(TEAM) if code in m.text]) == 1, code
    store = await Store.open(settings)
    try:
        for person in people:
            told = [m for m in fake.messages(person.user_id) if any(c in m.text for c in codes)]
            assert len(told) == 1
            facts = [a.fact for a in await store.answer_history(f"tg:{person.user_id}")]
            assert len(facts) == len(set(facts)), "an answer was applied twice"
            assert facts == flow_order(), "answers applied out of order or lost"
    finally:
        await store.close()


async def _until_both_listen(client: httpx.AsyncClient, ports: list[int]) -> None:
    """Wait (bounded) until both processes answer /health."""
    for port in ports:
        for _ in range(300):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the process on port {port} never answered /health")


async def _hand_over(fake: FakeBotAPI, person: Person) -> str:
    """Answer the handoff questions; return the referral code the patient was given."""
    for step in HANDOFF:
        if step == "contact":
            since = fake.mark()
            fake.user_shares_contact(person.user_id, "+86 138 0013 8000", first_name="Li Lei")
            await fake.wait_for(lambda m: m.chat_id == person.user_id, timeout=15, since=since)
            await fake.wait_idle(quiet=0.1, timeout=15)
        else:
            await person.answer(step)
    final = fake.last(person.user_id).text
    code = re.search(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}", final)
    assert code is not None, final
    return code.group(0)
