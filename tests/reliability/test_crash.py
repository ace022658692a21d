"""Kill the real bot process with SIGKILL between answers and during the handoff.

After each restart the conversation must go on at the right question, no answered question
may be asked again, no answer may be lost, and the referral must reach the team once.
``make test`` kills at a seeded sample of answers and handoff steps (``CRASH_SEED``);
``make test-long`` kills before every one of them.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.storage.commands import keygen
from bot.storage.inbox import Inbox
from bot.storage.store import Store
from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.running import settled

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
        await self.polling(mark)
        # A re-delivered update gets the current question again: let that settle first.
        await self.settled()

    async def polling(self, mark: int, timeout: float = 90) -> None:
        """Wait (bounded: a loaded machine starts a process slowly) for a getUpdates call
        after call number ``mark``."""
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(c.method == "getUpdates" for c in self.fake.calls[mark:]):
            if self.process.returncode is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the bot never polled in {timeout} s")
            await asyncio.sleep(0.01)  # polling the fake's calls, with a deadline

    async def settled(self, timeout: float = 15) -> None:
        """Wait (bounded) until the bot has confirmed and handled every update so far."""
        keys = self.env.get("DATA_ENCRYPTION_KEYS") or self.env["DATA_ENCRYPTION_KEY"]
        settings = Settings(
            database_url=self.env["DATABASE_URL"],
            data_encryption_keys=SecretStr(keys),
            _env_file=None,  # type: ignore[call-arg]
        )
        store = await Store.open(settings)
        try:
            await settled(self.fake, store, timeout)
        finally:
            await store.close()

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)


HANDOFF_STEPS = ("yes", "contact", "yes", "skip", "morning", "en")
SEED = int(os.environ.get("CRASH_SEED", "16"))
USER = 8001
WHO = {"first_name": "Crash Test", "language_code": "en"}


async def handled(store: Store, update_id: int, timeout: float = 30) -> None:
    """Wait (bounded) until the bot marked the update done in its inbox: it is stored, applied
    and answered (the done mark follows the replies)."""
    inbox = Inbox(store)
    deadline = asyncio.get_running_loop().time() + timeout
    while not await inbox.is_done(update_id):
        assert asyncio.get_running_loop().time() < deadline, f"update {update_id} never done"
        await asyncio.sleep(0.02)


def answer(fake: FakeBotAPI, value: str) -> int:
    """Tap ``value`` when the newest question offers it, else type it; return the update id."""
    last = fake.messages(USER)[-1]
    rows = (last.reply_markup or {}).get("inline_keyboard", [])
    datas = [b.get("callback_data", "") for row in rows for b in row]
    data = next((d for d in datas if d.endswith(f"|{value}")), None)
    if data is not None:
        update = fake.user_taps(USER, last.message_id, data, strict=False, **WHO)
    elif value == "contact":
        update = fake.user_shares_contact(USER, "+86 138 0013 8000", first_name="Crash Test")
    else:
        update = fake.user_sends(USER, value, **WHO)
    return int(update["update_id"])


async def run_kills(tmp_path: Path, questions: set[str], handoff: set[int]) -> None:
    """Screen one person, killing the bot before each answer in ``questions`` and before each
    handoff step whose index is in ``handoff``; kill once more before the card goes out.
    Each answer waits until the bot has marked it done, so a slow machine changes no step."""
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
        await bot.start()
        store = await Store.open(settings)
        try:
            await handled(store, int(fake.user_command(USER, "/start", **WHO)["update_id"]))
            await handled(store, answer(fake, "agree"))
            for question in _flow_order():
                if question in questions:
                    await bot.kill()
                    await bot.start()
                await handled(store, answer(fake, ELIGIBLE_EN[question]))
            asked = _questions_in(fake)
            for index, step in enumerate(HANDOFF_STEPS):
                if index in handoff:
                    await bot.kill()
                    await bot.start()
                await handled(store, answer(fake, step))
            final = fake.last(USER).text
            code = re.search(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}", final)
            assert code is not None, final
            await bot.kill()
            await bot.start()
            await fake.wait_for(
                lambda m: m.chat_id == TEAM and code.group(0) in m.text, timeout=30, since=0
            )
            await delivered(store, code.group(0))  # nothing left that could send it again
            history = await store.answer_history(f"tg:{USER}")
        finally:
            await store.close()
            await bot.stop()

        cards = [m for m in fake.messages(TEAM) if code.group(0) in m.text]
        assert len(cards) == 1, "the referral reached the team more than once"
        numbers = [int(n) for n in re.findall(r"Question (\d+) of", "\n".join(asked))]
        assert numbers == sorted(numbers), "an answered question was asked again"
        facts = [a.fact for a in history]
        assert sorted(facts) == sorted(set(facts)) and set(facts) == set(_flow_order())


async def delivered(store: Store, ref: str, timeout: float = 30) -> None:
    """Wait (bounded) until the card's message id is stored and no outbox item is pending."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        details = await store.referral(ref)
        pending = (await store.outbox_counts()).get("pending", 0)
        if details is not None and details.card_message_id is not None and not pending:
            return
        assert asyncio.get_running_loop().time() < deadline, "the card was never marked sent"
        await asyncio.sleep(0.05)


async def test_sigkill_at_a_seeded_sample_of_answers_and_handoff_steps(tmp_path: Path) -> None:
    """Six kills mid-screening and two in the handoff (CRASH_SEED picks them), then one more."""
    rng = random.Random(SEED)
    questions = set(rng.sample(_flow_order(), 6))
    handoff = set(rng.sample(range(len(HANDOFF_STEPS)), 2))
    await run_kills(tmp_path, questions, handoff)


@pytest.mark.slow
async def test_sigkill_after_every_answer_and_during_the_handoff(tmp_path: Path) -> None:
    await run_kills(tmp_path, set(_flow_order()), set(range(len(HANDOFF_STEPS))))


def _flow_order() -> list[str]:
    from bot.engine.engine import load_engine

    return [q.id for q in load_engine().flow.questions]


def _questions_in(fake: FakeBotAPI) -> list[str]:
    return [m.text.split("\n")[0] for m in fake.messages(USER) if m.text.startswith("Question")]
