"""The real bot (``serve``) in a background task against the fake Bot API: the harness the
Telegram, handoff and reliability tests share."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from bot.channels.telegram.app import serve
from bot.channels.telegram.team import TeamOptions
from bot.config import Settings
from bot.storage.commands import keygen
from tests.fakebotapi import FakeBotAPI

TEAM_CHAT = -1001234567890


def bot_settings(fake: FakeBotAPI, tmp_path: Path, **extra: Any) -> Settings:
    """Settings pointing the bot at the fake API, a fresh SQLite file and the team chat."""
    values: dict[str, Any] = {
        "telegram_bot_token": fake.token,
        "telegram_base_url": fake.base_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "data_encryption_key": keygen(),
        "study_team_chat_id": TEAM_CHAT,
        # scripted patients answer far faster than people, and the fake enforces no chat
        # limit unless told (tests/telegram/test_sendpace_http.py turns both on)
        "telegram_chat_burst": 1000,
        **extra,
    }
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


class RunningBot:
    """The bot serving in a background task; it can be stopped and started again."""

    def __init__(
        self, settings: Settings, fake: FakeBotAPI, options: TeamOptions | None = None
    ) -> None:
        self.settings = settings
        self.fake = fake
        self.options = options
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve, and wait until the bot polls for updates."""
        mark = len(self.fake.calls)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(serve(self.settings, self._stop, self.options))
        for _ in range(1000):
            if self._task.done():
                self._task.result()  # raises what stopped the bot
                raise AssertionError("the bot stopped at start-up")
            if any(c.method == "getUpdates" for c in self.fake.calls[mark:]):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the bot never polled for updates")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop serving cleanly (nothing to do when it is not running)."""
        if self.running:
            assert self._stop is not None and self._task is not None
            self._stop.set()
            await asyncio.wait_for(self._task, 15)

    async def crash(self) -> None:
        """Stop abruptly: cancel the task without a clean shutdown of the updater."""
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
