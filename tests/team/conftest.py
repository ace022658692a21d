"""The study team's side under test: the real bot (``serve``) with short timings against the
fake Bot API, a team chat with coordinators, and a second ``Store`` on the same database
for the test to create referrals the way the patient side does."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bot.channels.telegram.team import TeamOptions
from bot.config import Settings
from bot.storage import Store
from bot.storage.commands import upgrade
from bot.team.outbox import WorkerOptions
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.models import SentMessage
from tests.fakewecom import FakeWeCom
from tests.running import TEAM_CHAT, RunningBot, bot_settings, running_bot

COORDINATOR = 501  # a member of the team chat
SECOND = 502  # another member
STRANGER = 503  # not a member
REF = re.compile(r"CZ-[0-9A-Z]{4}-[0-9A-Z]{4}")
ROBOT_WINDOW = 2.0  # the WeCom robot's "minute", in the fake and in the bot's pacing


def fast_options(**worker: Any) -> TeamOptions:
    """Timings for tests; the group limit stays Telegram's (the fake enforces it)."""
    return TeamOptions(
        worker=WorkerOptions(
            **{
                "poll_interval": 0.05,
                "backoff_base": 0.05,
                "backoff_cap": 0.5,
                "digest_gather": 0.3,
                **worker,
            }
        ),
        team_min_interval=0.05,
        reminder_every=0.1,
        refusal_every=0.0,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI()
    await api.start()
    api.add_group(TEAM_CHAT, "Study team", members=[COORDINATOR, SECOND])
    api.add_user(COORDINATOR, "Li", last_name="Wang", language_code="zh-hans")
    api.add_user(SECOND, "Mei", last_name="Chen", language_code="zh-hans")
    api.add_user(STRANGER, "Eve", language_code="en")
    api.set_member(TEAM_CHAT, STRANGER, "left")
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
def settings(fake: FakeBotAPI, tmp_path: Path) -> Settings:
    return bot_settings(fake, tmp_path)


@pytest.fixture
def options() -> TeamOptions:
    return fast_options()


@pytest.fixture
async def team_bot(
    settings: Settings, fake: FakeBotAPI, options: TeamOptions
) -> AsyncIterator[RunningBot]:
    await upgrade(settings)
    running = RunningBot(settings, fake, options)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def store(settings: Settings, team_bot: RunningBot) -> AsyncIterator[Store]:
    """The test's own view of the bot's database (as the patient side would write it)."""
    opened = await Store.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def past_store(settings: Settings, team_bot: RunningBot) -> AsyncIterator[Store]:
    """A store whose clock is 25 hours behind: its referrals are old enough to remind."""
    clock = Clock(datetime.now(UTC) - timedelta(hours=25))
    opened = await Store.open(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


def team_messages(fake: FakeBotAPI) -> list[SentMessage]:
    return fake.messages(TEAM_CHAT)


def cards(fake: FakeBotAPI) -> dict[str, SentMessage]:
    """The referral cards in the team chat by reference code (the last one per code)."""
    found: dict[str, SentMessage] = {}
    for message in team_messages(fake):
        refs = card_refs(message)
        if len(refs) == 1:
            found[refs.pop()] = message
    return found


def card_refs(message: SentMessage) -> set[str]:
    """The codes a message's status buttons are for (a card has exactly one)."""
    return {
        b.get("callback_data", "").split("|")[1]
        for b in message.buttons
        if b.get("callback_data", "").startswith("r|")
        and not b.get("callback_data", "").endswith("|show")
    }


async def until(
    probe: Callable[[], Any], timeout: float = 10.0, what: str = "the condition"
) -> Any:
    """Wait until ``probe()`` is truthy; return it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = probe()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.02)


async def card_for(fake: FakeBotAPI, ref: str, timeout: float = 10.0) -> SentMessage:
    found: SentMessage = await until(lambda: cards(fake).get(ref), timeout, f"the card of {ref}")
    return found


async def press(fake: FakeBotAPI, user: int, message: SentMessage, action: str) -> None:
    """A coordinator taps a card's button; wait until the bot has handled it."""
    data = next(
        b["callback_data"] for b in message.buttons if b["callback_data"].endswith(f"|{action}")
    )
    tap(fake, user, message, data)
    await handled(fake)


async def handled(fake: FakeBotAPI, timeout: float = 10.0) -> None:
    """Wait (bounded) until the bot serving against ``fake`` has handled every update."""
    running = running_bot(fake)
    assert running is not None, "no bot is serving"
    await running.settled(timeout)


def tap(fake: FakeBotAPI, user: int, message: SentMessage, data: str) -> dict[str, Any]:
    return fake.user_taps(
        user,
        message.message_id,
        data,
        chat_type="supergroup",
        chat_id=TEAM_CHAT,
        strict=False,
    )


async def team_command(fake: FakeBotAPI, user: int, command: str) -> None:
    """A member sends a command in the team chat; wait until the bot has handled it."""
    fake.user_command(user, command, chat_type="supergroup", chat_id=TEAM_CHAT)
    await handled(fake, 20)


# -- the e-mail server and the WeCom robot ----------------------------------------------------


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server: its inbox and port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def robot_api() -> AsyncIterator[FakeWeCom]:
    """The fake WeCom robot API, with a short window for its per-minute limit."""
    fake = FakeWeCom(window=ROBOT_WINDOW)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
