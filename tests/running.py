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
from bot.storage.inbox import Inbox, Received
from bot.storage.store import Store
from tests.fakebotapi import FakeBotAPI

TEAM_CHAT = -1001234567890
_RUNNING: dict[int, RunningBot] = {}  # by id() of the fake it serves against


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


async def settled(fake: FakeBotAPI, store: Store, timeout: float = 10.0) -> None:
    """Wait (bounded) until the bot has handled every update the fake queued so far.

    Deterministic, whatever the machine's speed: the fake holds no update the bot has not
    confirmed (an update is stored in the inbox before the next getUpdates confirms it) and
    no Bot API call is in flight, and then the inbox has no update left to handle (an update
    is marked done after its handlers returned or its replies went out; one whose handler
    failed stays pending, for the next start, with its failure counted)."""
    inbox = Inbox(store)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        await fake.wait_idle(quiet=0, timeout=max(left, 0.1))  # no call in flight
        if not fake.pending_updates and not _unhandled(await inbox.pending()):
            return
        if asyncio.get_running_loop().time() > deadline:
            waiting = [u["update_id"] for u in fake.pending_updates]
            raise AssertionError(f"not settled in {timeout} s: unconfirmed updates {waiting}")
        await asyncio.sleep(0.01)  # polling the conditions above, with a deadline


def running_bot(fake: FakeBotAPI) -> RunningBot | None:
    """The in-process bot serving against ``fake`` now, if any (a child process is not)."""
    return _RUNNING.get(id(fake))


def _unhandled(pending: list[Received]) -> list[Received]:
    return [item for item in pending if item.attempts == 0]


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
        self._store: Store | None = None  # the test's view of the bot's database

    async def start(self) -> None:
        """Serve, and wait (bounded) until the bot polls for updates."""
        mark = len(self.fake.calls)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(serve(self.settings, self._stop, self.options))
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            if self._task.done():
                self._task.result()  # raises what stopped the bot
                raise AssertionError("the bot stopped at start-up")
            if any(c.method == "getUpdates" for c in self.fake.calls[mark:]):
                _RUNNING[id(self.fake)] = self
                return
            await asyncio.sleep(0.01)  # polling the fake's calls, with a deadline
        raise AssertionError("the bot never polled for updates")

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until this bot has handled every update the fake queued so far."""
        if self._store is None:
            self._store = await Store.open(self.settings)
        await settled(self.fake, self._store, timeout)

    async def _forget(self) -> None:
        _RUNNING.pop(id(self.fake), None)
        if self._store is not None:
            await self._store.close()
            self._store = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop serving cleanly (nothing to do when it is not running)."""
        if self.running:
            assert self._stop is not None and self._task is not None
            self._stop.set()
            await asyncio.wait_for(self._task, 15)
        await self._forget()

    async def crash(self) -> None:
        """Stop abruptly: cancel the task without a clean shutdown of the updater."""
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        await self._forget()
