"""Kill the real bot process with SIGKILL after every answer and during the handoff.

After each restart the conversation must go on at the right question, no answered question
may be asked again, no answer may be lost, and the referral must reach the team once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from bot.config import Settings
from bot.storage.commands import keygen
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.telegram.conftest import Person

ROOT = Path(__file__).resolve().parents[2]
TEAM = -1009876543210
COORDINATOR = 777


class BotProcess:
    """`python -m bot run` as a child process that can be killed and started again."""

    def __init__(self, env: dict[str, str], cwd: Path, fake: FakeBotAPI) -> None:
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "DATA_", "DATABASE_"))
        }
        self.env.update(env, PYTHONPATH=str(ROOT))
        self.cwd = cwd
        self.fake = fake
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        mark = len(self.fake.calls)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(3000):
            if any(c.method == "getUpdates" for c in self.fake.calls[mark:]):
                break
            if self.process.returncode is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode}")
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the bot never polled")
        # A re-delivered update gets the current question again: let that settle first.
        await self.fake.wait_idle(quiet=0.3, timeout=15)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)


async def test_sigkill_after_every_answer_and_during_the_handoff(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        fake.add_group(TEAM, "Study team", members=[COORDINATOR])
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            data_encryption_key=keygen(),
            _env_file=None,  # type: ignore[call-arg]
        )
        env = {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_BASE_URL": fake.base_url,
            "DATABASE_URL": settings.database_url,
            "DATA_ENCRYPTION_KEY": settings.data_encryption_key.get_secret_value(),  # type: ignore[union-attr]
            "STUDY_TEAM_CHAT_ID": str(TEAM),
            "FLOOD_BURST": "1000",
            "LOG_LEVEL": "WARNING",
        }
        bot = BotProcess(env, tmp_path, fake)
        person = Person(fake, 8001, "en", name="Crash Test")
        await bot.start()
        try:
            await person.command("/start")
            await person.tap("agree")
            for question in _flow_order():
                await bot.kill()
                await bot.start()
                await person.answer(ELIGIBLE_EN[question])
            asked = _questions_in(fake, person)
            for step in ("yes", "contact", "yes", "skip", "morning", "en"):
                await bot.kill()
                await bot.start()
                if step == "contact":
                    fake.mark()
                    fake.user_shares_contact(
                        person.user_id, "+86 138 0013 8000", first_name="Crash Test"
                    )
                    await fake.wait_for(lambda m: m.chat_id == person.user_id, timeout=15)
                    await fake.wait_idle(quiet=0.2, timeout=15)
                else:
                    await person.tap(step)
            final = fake.last(person.user_id).text
            code = re.search(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}", final)
            assert code is not None, final
            await bot.kill()
            await bot.start()
            await fake.wait_for(
                lambda m: m.chat_id == TEAM and code.group(0) in m.text, timeout=30, since=0
            )
            await asyncio.sleep(1.0)
        finally:
            await bot.stop()

        cards = [m for m in fake.messages(TEAM) if code.group(0) in m.text]
        assert len(cards) == 1, "the referral reached the team more than once"
        numbers = [int(n) for n in re.findall(r"Question (\d+) of", "\n".join(asked))]
        assert numbers == sorted(numbers), "an answered question was asked again"
        store = await Store.open(settings)
        try:
            history = await store.answer_history("tg:8001")
        finally:
            await store.close()
        facts = [a.fact for a in history]
        assert sorted(facts) == sorted(set(facts)) and set(facts) == set(_flow_order())


def _flow_order() -> list[str]:
    from bot.engine.engine import load_engine

    return [q.id for q in load_engine().flow.questions]


def _questions_in(fake: FakeBotAPI, person: Person) -> list[str]:
    return [
        m.text.split("\n")[0]
        for m in fake.messages(person.user_id)
        if m.text.startswith("Question")
    ]
