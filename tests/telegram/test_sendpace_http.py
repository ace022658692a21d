"""The real bot against the fake Bot API with Telegram's limits on: a burst of patients gets
every reply without a single 429 (30 a second for the bot, a burst of 3 then one a second per
chat). Timing is not asserted: the throughput figures are the campaign benchmark's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from bot.storage.commands import upgrade
from tests.fakebotapi import FakeBotAPI
from tests.running import RunningBot, bot_settings

PATIENTS = range(30_001, 30_046)


async def until(ready: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait until ``ready()`` holds, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        await asyncio.sleep(0.05)


def tap_last(fake: FakeBotAPI, user_id: int, ending: str) -> None:
    """Tap the button ending in ``ending`` of the newest message offering it."""
    for msg in reversed(fake.messages(user_id)):
        for button in msg.buttons:
            data = button.get("callback_data", "")
            if data.endswith(ending):
                fake.user_taps(user_id, msg.message_id, data, language_code="en")
                return
    raise AssertionError(f"no button {ending!r} for {user_id}")


def says(fake: FakeBotAPI, user_id: int, text: str) -> bool:
    messages = fake.messages(user_id)
    return bool(messages) and text in messages[-1].text


async def test_a_burst_of_patients_gets_every_reply_without_a_429(tmp_path: Path) -> None:
    async with FakeBotAPI(max_per_second=30, chat_per_second=1.0, chat_burst=3) as fake:
        settings = bot_settings(fake, tmp_path, flood_burst=1000, telegram_chat_burst=3)
        await upgrade(settings)
        bot = RunningBot(settings, fake)
        await bot.start()
        try:
            for user in PATIENTS:  # all at once, as after a post in a large channel
                fake.user_command(user, "/start", first_name="P", language_code="en")
            await until(lambda: all(says(fake, u, "Do you agree?") for u in PATIENTS), 60, "/start")
            for user in PATIENTS:  # each taps at once: the third message of a burst of 3
                tap_last(fake, user, "|agree")
            asked = "Has a doctor told you"
            await until(lambda: all(says(fake, u, asked) for u in PATIENTS), 60, "the consent")
            for user in PATIENTS:  # and answers at once: this reply waits for the chat's second
                tap_last(fake, user, "|yes")
            await until(lambda: all(len(fake.messages(u)) == 4 for u in PATIENTS), 60, "answers")
            await fake.wait_idle(quiet=0.5, timeout=30)
        finally:
            await bot.stop()
        assert fake.flood_errors == 0, fake.floods
        for user in PATIENTS:
            messages = fake.messages(user)
            assert len(messages) == 4 and messages[2].edited  # each reply once; taps shown
        assert len(fake.calls_to("answerCallbackQuery")) == 2 * len(PATIENTS)
