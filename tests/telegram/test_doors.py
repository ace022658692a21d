"""`python -m bot run` in webhook mode refuses to start without a secret or an https address."""

from __future__ import annotations

from pathlib import Path

from tests.telegram.test_startup import base_env, run_bot

__all__ = ["base_env"]  # the fixture, shared with the other start-up tests

TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx"


async def test_webhook_mode_without_a_secret_refuses_to_start(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    env = {**base_env, "TELEGRAM_BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://bot.example.org/t"}
    code, err = await run_bot(env, tmp_path)
    assert code == 2 and "WEBHOOK_SECRET" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1  # one clear line


async def test_webhook_mode_over_plain_http_refuses_to_start(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    env = {
        **base_env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "WEBHOOK_URL": "http://bot.example.org/t",
        "WEBHOOK_SECRET": "a-long-random-secret",
    }
    code, err = await run_bot(env, tmp_path)
    assert code == 2 and "https://" in err and "Traceback" not in err
