"""Run the WeChat channel (``serve_wechat``) against the fake WeChat platform."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.channels.wechat.main import serve_wechat
from bot.config import Settings
from bot.storage.commands import keygen, upgrade
from tests.fakewechat import FakeWeChat
from tests.fakewechat.crypto import new_aes_key
from tests.storage.conftest import (  # noqa: F401  (fixtures: SQLite and PostgreSQL)
    backend,
    db_url,
    pg_server,
    pg_session_db,
    sqlite_template,
)

RETRY_AFTER = 1.0  # WeChat waits 5 s; the tests wait less, the retries stay the same


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WeChatBot:
    """The WeChat channel serving in a background task."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve, and wait until the server listens."""
        self._stop = asyncio.Event()
        started = asyncio.Event()
        self._task = asyncio.create_task(serve_wechat(self.settings, self._stop, started=started))
        waiter = asyncio.create_task(started.wait())
        done, _ = await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            waiter.cancel()
            self._task.result()
            raise AssertionError("the WeChat channel stopped at start-up")

    async def stop(self) -> None:
        """Stop serving cleanly."""
        if self._task is not None and not self._task.done():
            self._stop.set()
            await asyncio.wait_for(self._task, 15)


def wechat_settings(db: str, port: int, fake: FakeWeChat, **extra: Any) -> Settings:
    """Settings for the channel on ``port``, pointing at the fake platform."""
    values: dict[str, Any] = {
        "wechat_app_id": fake.app_id,
        "wechat_app_secret": fake.app_secret,
        "wechat_token": fake.token,
        "wechat_aes_key": fake.aes_key,
        "wechat_safe_mode": fake.aes_key is not None,
        "wechat_base_url": fake.base_url,
        "wechat_port": port,
        "database_url": db,
        "data_encryption_key": keygen(),
        "flood_burst": 1000,
        **extra,
    }
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(params=["plain", "safe"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def customer_service() -> bool:
    """Whether the account may send customer-service messages (tests override it)."""
    return True


@pytest.fixture
async def fake(mode: str) -> AsyncIterator[FakeWeChat]:
    """The fake platform, in plain or safe mode, posting to a free port."""
    port = free_port()
    aes = new_aes_key() if mode == "safe" else None
    platform = FakeWeChat(f"http://127.0.0.1:{port}/wechat", aes_key=aes, timeout=RETRY_AFTER)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat, customer_service: bool) -> Settings:  # noqa: F811
    port = int(fake.bot_url.split(":")[2].split("/")[0])
    return wechat_settings(db_url, port, fake, wechat_customer_service=customer_service)


@pytest.fixture
async def wxbot(settings: Settings) -> AsyncIterator[WeChatBot]:
    """Migrate, then run the channel for the test."""
    await upgrade(settings)
    running = WeChatBot(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
