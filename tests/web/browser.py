"""What the real-browser tests need: Debian's Chromium driven by Playwright (no browser
download), the console served by uvicorn on a free port, and the team chat's outbox worker
against the fake Bot API, so a card can be seen to follow the console."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from telegram import Bot

from bot.channels.telegram.team import TelegramSender
from bot.config import Settings
from bot.storage import Store
from bot.team.cards import TeamTexts
from bot.team.outbox import OutboxWorker, WorkerOptions
from bot.team.pacing import Pacer
from bot.web.server import serve_web
from tests.fakebotapi import FakeBotAPI
from tests.running import TEAM_CHAT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}


def need_chromium() -> None:
    """Fail in CI without Chromium; elsewhere skip, saying loudly why and how to fix it."""
    if CHROMIUM.exists():
        return
    reason = (
        f"{CHROMIUM} is missing: the console's browser tests need Debian's chromium "
        "(apt-get install chromium chromium-driver, as .ci/run does)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(f"BROWSER TESTS NOT RUN: {reason}")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with no network of its own."""
    need_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def console(settings: Settings) -> AsyncIterator[str]:
    """The real console app served by uvicorn on 127.0.0.1:<free port>; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop = asyncio.Event()
    running = asyncio.create_task(serve_web(settings, stop, sock=sock))
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/login")).status_code == 200
        yield url
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        sock.close()


@asynccontextmanager
async def team_chat(store: Store) -> AsyncIterator[FakeBotAPI]:
    """A fake Bot API with the team chat, and the outbox worker posting and editing cards."""
    api = FakeBotAPI()
    await api.start()
    api.add_group(TEAM_CHAT, "Study team", members=[501])
    bot = Bot(api.token, base_url=api.base_url)
    await bot.initialize()
    pacer = Pacer(18, 60.0, 0.05)
    sender = TelegramSender(bot, TEAM_CHAT, team_pacer=pacer, people_pacer=Pacer(25, 1.0))
    options = WorkerOptions(poll_interval=0.05, backoff_base=0.05, backoff_cap=0.5)
    worker = OutboxWorker(store, sender, TeamTexts("en"), team_pacer=pacer, options=options)
    running = asyncio.create_task(worker.run())
    try:
        yield api
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
        await bot.shutdown()
        await api.stop()


async def sign_in(page: Page, url: str, name: str, password: str, new: str) -> None:
    """Sign in with a one-time password, then choose one's own (as a new coordinator does)."""
    await page.goto(f"{url}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("main form button[type=submit]")
    await page.wait_for_url(f"{url}/password")
    await page.fill("input[name=password]", new)
    await page.click("main form button[type=submit]")
    await page.wait_for_url(f"{url}/referrals")


async def fits(page: Page) -> bool:
    """Whether the page needs no sideways scrolling at its width."""
    wide: bool = await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return wide


def shot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
