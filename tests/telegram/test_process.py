"""The real bot process, killed with SIGKILL mid-screening, resumes with nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.storage.commands import keygen
from tests.conftest import ELIGIBLE_EN
from tests.fakebotapi import FakeBotAPI
from tests.telegram.conftest import Person

ROOT = Path(__file__).resolve().parents[2]


async def start_process(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """Start `python -m bot run` in the background."""
    full = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATA_", "DATABASE_"))
    }
    full.update(env)
    full["PYTHONPATH"] = str(ROOT)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=full,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def wait_polling(fake: FakeBotAPI, mark: int) -> None:
    for _ in range(3000):
        if any(c.method == "getUpdates" for c in fake.calls[mark:]):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the bot process never polled")


async def test_sigkill_mid_screening_then_restart_continues(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        env = {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_BASE_URL": fake.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "DATA_ENCRYPTION_KEY": keygen(),
            "LOG_LEVEL": "WARNING",
        }
        mark = len(fake.calls)
        process = await start_process(env, tmp_path)
        try:
            await wait_polling(fake, mark)
            person = Person(fake, 3001, "en")
            await person.command("/start")
            await person.tap("agree")
            for fact in ("diabetes_diagnosed", "age", "sex", "diabetes_type"):
                await person.answer(ELIGIBLE_EN[fact])
            assert "low blood sugar" in fake.last(person.user_id).text
            process.send_signal(signal.SIGKILL)
            await process.wait()

            mark = len(fake.calls)
            process = await start_process(env, tmp_path)
            await wait_polling(fake, mark)
            replies = await person.answer("yes")  # frequent_hypoglycemia, after the restart
            assert "past 12 months" in replies[-1].text
            asked = [m.text for m in fake.messages(person.user_id) if "Question" in m.text]
            numbers = [t.split("\n")[0] for t in asked]
            assert len(numbers) == len(set(numbers)), "a question was asked twice"
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 20)
