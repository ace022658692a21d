"""`kill -9` of the real `python -m bot run` process mid-screening, on SQLite and PostgreSQL.

After each restart the conversation goes on at the question it had reached: an answer
whose reply was sent is kept, and an answer committed by a process killed before its reply
counts once when WeChat delivers the message again.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakewechat import FakeWeChat
from tests.fakewechat.crypto import signature
from tests.wechat.conftest import wechat_settings
from tests.wechat.person import Person

ROOT = Path(__file__).resolve().parents[2]
OURS = ("TELEGRAM_", "WECHAT_", "DATA_", "DATABASE_", "WEB_", "STUDY_", "TRIALBOT_", "HANDOFF_")


@pytest.fixture
def mode() -> str:
    return "safe"


class WeChatProcess:
    """`python -m bot run` with the WeChat channel, as a child process."""

    def __init__(self, settings: Settings, fake: FakeWeChat, cwd: Path) -> None:
        key = settings.data_encryption_key
        assert key is not None and fake.aes_key is not None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
        self.env.update(
            PYTHONPATH=str(ROOT),
            DATABASE_URL=settings.database_url,
            DATA_ENCRYPTION_KEY=key.get_secret_value(),
            WECHAT_APP_ID=fake.app_id,
            WECHAT_APP_SECRET=fake.app_secret,
            WECHAT_TOKEN=fake.token,
            WECHAT_AES_KEY=fake.aes_key,
            WECHAT_BASE_URL=fake.base_url,
            WECHAT_PORT=str(settings.wechat_port),
            FLOOD_BURST="1000",
            LOG_LEVEL="WARNING",
        )
        self.fake, self.cwd = fake, cwd
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, crash_at: str = "") -> None:
        """Start, and wait until the server answers WeChat's URL check."""
        env = {**self.env, "TRIALBOT_CRASH_AT": crash_at} if crash_at else self.env
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=self.cwd, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        stamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        query = {"timestamp": stamp, "nonce": nonce, "echostr": "ready"}
        query["signature"] = signature(self.fake.token, stamp, nonce)
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(f"the bot exited with {self.process.returncode}")
                try:
                    if (await client.get(self.fake.bot_url, params=query)).text == "ready":
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.05)  # polling, with a deadline
        raise AssertionError("the WeChat channel did not start listening")

    async def kill(self) -> None:
        """SIGKILL, as `kill -9`; wait until the process is gone."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()

    async def died(self) -> int:
        """Wait for a process that kills itself; return its exit code."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), 30)


async def _record(settings: Settings, openid: str) -> dict[str, object]:
    store = await Store.open(settings)
    try:
        async with store.turn(f"wx:{openid}") as turn:
            assert turn.record is not None
            return dict(turn.record)
    finally:
        await store.close()


async def test_kill_9_mid_screening_and_the_conversation_goes_on(
    db_url: str, fake: FakeWeChat, tmp_path: Path
) -> None:
    port = int(fake.bot_url.split(":")[2].split("/")[0])
    settings = wechat_settings(db_url, port, fake)
    bot = WeChatProcess(settings, fake, tmp_path)
    person = Person(fake, "oKILL_9_0001", "zh-Hans")
    await bot.start()
    try:
        await fake.subscribe(person.openid)
        await person.pick("是，我同意")
        await person.screen(ELIGIBLE_EN, asked=slice(0, 6))
        await bot.kill()  # kill -9 between two answers
        await bot.start()
        order = person.asked(ELIGIBLE_EN)
        record = await _record(settings, person.openid)
        assert record["state"] == order[6] and len(dict(record["answers"])) == 6  # type: ignore[call-overload]

        await bot.kill()
        await bot.start(crash_at="committed:1")  # dies after committing, before replying
        fields = fake.message(person.openid, "text", Content=_typed(person, order[6]))
        lost = await fake.post(fields)
        assert await bot.died() != 0 and lost.passive is None  # no reply reached the person
        await bot.start()
        again = await fake.post(fields)  # WeChat delivers the message again
        assert again.statuses == [200] and again.passive is not None
        record = await _record(settings, person.openid)
        assert len(dict(record["answers"])) == 7  # type: ignore[call-overload]
        assert record["state"] == order[7]  # the answer counted once, nothing lost

        await person.screen(ELIGIBLE_EN, asked=slice(7, None))
        await person.pick("是，发送我的资料")
        await person.say("138 0013 8000")
        await person.say("李雷")
        for label in ("跳过", "上午", "普通话"):
            await person.pick(label)
        assert re.search(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}", person.last()), person.last()
    finally:
        await bot.kill()


def _typed(person: Person, question: str) -> str:
    """Return what the person types to answer ``question`` as the eligible profile does."""
    value = ELIGIBLE_EN[question]
    label = person.label(question, value)
    return value if label is None else person.options()[label]
