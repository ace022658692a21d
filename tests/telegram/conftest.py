"""Run the real bot (``serve``) against the fake Bot API, and script patients over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.storage.commands import upgrade
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.models import SentMessage
from tests.running import TEAM_CHAT, RunningBot, bot_settings, running_bot

__all__ = ["TEAM_CHAT", "Person", "RunningBot"]
QUIET = 0.08


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """Start the fake Bot API on 127.0.0.1."""
    api = FakeBotAPI()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
def settings(fake: FakeBotAPI, tmp_path: Path) -> Settings:
    """Settings pointing the bot at the fake API and a fresh SQLite file."""
    return bot_settings(fake, tmp_path, flood_burst=1000)  # scripted patients answer fast


@pytest.fixture
async def bot(settings: Settings, fake: FakeBotAPI) -> AsyncIterator[RunningBot]:
    """Migrate, then run the bot for the test."""
    await upgrade(settings)
    running = RunningBot(settings, fake)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


class Person:
    """A Telegram user talking to the bot in a private chat."""

    def __init__(
        self, fake: FakeBotAPI, user_id: int, lang: str = "en", name: str = "Test"
    ) -> None:
        self.fake = fake
        self.user_id = user_id
        self.lang = lang
        self.name = name

    def _who(self) -> dict[str, Any]:
        return {"first_name": self.name, "language_code": self.lang}

    async def _act(self, action: Any) -> list[SentMessage]:
        before = {m.message_id: m.text for m in self.fake.messages(self.user_id)}
        self.fake.mark()
        action()
        await self.fake.wait_for(lambda m: m.chat_id == self.user_id, timeout=10)
        running = running_bot(self.fake)
        if running is not None:  # every reply sent, whatever the machine's speed
            await running.settled()
        await self.fake.wait_idle(quiet=QUIET, timeout=10)  # and the edits that follow
        return [m for m in self.fake.messages(self.user_id) if before.get(m.message_id) != m.text]

    async def say(self, text: str) -> list[SentMessage]:
        """Type text and wait for the bot to finish replying."""
        return await self._act(lambda: self.fake.user_sends(self.user_id, text, **self._who()))

    async def command(self, text: str) -> list[SentMessage]:
        """Send a command such as "/start flyer__zh-Hant"."""
        return await self._act(lambda: self.fake.user_command(self.user_id, text, **self._who()))

    def buttons(self) -> list[tuple[int, str, str]]:
        """Return (message id, label, data) of every button on the chat's messages, newest last."""
        found = []
        for message in self.fake.messages(self.user_id):
            markup = message.reply_markup or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    found.append(
                        (message.message_id, button["text"], button.get("callback_data", ""))
                    )
        return found

    async def tap(self, option: str) -> list[SentMessage]:
        """Tap the newest button whose option id is ``option``."""
        matches = [b for b in self.buttons() if b[2].endswith(f"|{option}")]
        assert matches, f"no button for {option!r}; buttons: {self.buttons()}"
        message_id, _, data = matches[-1]
        return await self.tap_data(message_id, data)

    async def tap_data(self, message_id: int, data: str) -> list[SentMessage]:
        """Tap a button by its message and data (even an old one)."""
        return await self._act(
            lambda: self.fake.user_taps(self.user_id, message_id, data, strict=False, **self._who())
        )

    async def answer(self, value: str) -> list[SentMessage]:
        """Tap when the newest question offers ``value``, else type it."""
        last = self.fake.messages(self.user_id)[-1]
        markup = last.reply_markup or {}
        datas = [
            b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row
        ]
        if any(d.endswith(f"|{value}") for d in datas):
            return await self.tap(value)
        return await self.say(value)

    def transcript(self) -> str:
        """Return the chat as the person sees it."""
        return "\n---\n".join(m.text for m in self.fake.messages(self.user_id))
