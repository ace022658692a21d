"""Webhook mode: Telegram posts updates with the secret token; /health answers."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request

from pydantic import SecretStr

from bot.config import Settings
from bot.storage.commands import upgrade
from tests.fakebotapi import FakeBotAPI
from tests.telegram.conftest import Person, RunningBot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


async def test_webhook_mode_answers_and_reports_health(
    settings: Settings, fake: FakeBotAPI
) -> None:
    port = free_port()
    settings = settings.model_copy(
        update={
            "webhook_url": f"http://127.0.0.1:{port}/telegram",
            "webhook_port": port,
            "webhook_secret": SecretStr("s3cret-token"),
        }
    )
    await upgrade(settings)
    bot = RunningBot(settings, fake)
    mark = len(fake.calls)
    bot._stop = asyncio.Event()
    from bot.channels.telegram.app import serve

    bot._task = asyncio.create_task(serve(settings, bot._stop))
    await fake.wait_for_call("setWebhook", timeout=15, since=mark)
    try:
        person = Person(fake, 6001, "en")
        replies = await person.command("/start")
        assert "not a diagnosis" in replies[0].text
        status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/health")
        assert status == 200 and body["status"] == "ok" and body["mode"] == "webhook"
        assert int(body["updates_received"]) >= 1  # type: ignore[call-overload]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/telegram",
            data=b"{}",
            method="POST",
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        )
        try:
            await asyncio.to_thread(urllib.request.urlopen, request, None, 5)
            raise AssertionError("a wrong secret was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 403
    finally:
        await bot.stop()
