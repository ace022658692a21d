"""``python -m bot run`` with WeChat: the WeChat channel, and Telegram too when it has a token."""

from __future__ import annotations

import asyncio
import signal
import sys

from bot.channels.wechat.main import WeChatSettingsError, check_settings, serve_wechat
from bot.config import Settings
from bot.storage.errors import StorageError


def run_wechat(settings: Settings) -> int:
    """Run WeChat (with Telegram when TELEGRAM_BOT_TOKEN is set) in one process."""
    try:
        check_settings(settings)
        if settings.data_encryption_key is None:
            raise WeChatSettingsError(
                "DATA_ENCRYPTION_KEY is not set; the bot will not keep personal data unencrypted. "
                "Make a key with `python -m bot keygen` and put it in .env."
            )
        if settings.telegram_bot_token is not None:
            from bot.channels.telegram.app import check_token

            check_token(settings)
        return asyncio.run(_main(settings))
    except (WeChatSettingsError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # Telegram's token check, or a refusal at start-up
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _main(settings: Settings) -> int:
    from bot.storage.commands import upgrade

    await upgrade(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if settings.telegram_bot_token is None:
        await serve_wechat(settings, stop)
        return 0
    from bot.channels.telegram.app import serve

    await asyncio.gather(serve(settings, stop), serve_wechat(settings, stop, purge=False))
    return 0
