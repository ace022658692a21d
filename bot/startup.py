"""``python -m bot run``: check every configured service, migrate, serve them in one process.

The services are the Telegram bot (``TELEGRAM_BOT_TOKEN``), the WeChat Official Account
channel (``WECHAT_APP_ID``) and the study team's web console (``WEB_PORT``), in any
combination; they share one store and stop together on SIGINT or SIGTERM. Beside them, team
delivery (``bot/team/delivery.py``) posts to the WeCom robot (``WECOM_ROBOT_KEY``) and, in a
process without Telegram, sends the e-mails and reminders.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from bot.config import Settings, dotenv_warning
from bot.storage.errors import StorageError

log = logging.getLogger(__name__)


class StartupRefused(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def run(settings: Settings) -> int:
    """Run every configured service; print one clear line and return 2 when one cannot start."""
    from bot.channels.telegram.app import StartupError, explain
    from bot.channels.wechat.main import WeChatSettingsError

    try:
        check(settings)
        return asyncio.run(_serve(settings))
    except (StartupRefused, StartupError, WeChatSettingsError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the Bot API or the network refused at start-up
        print(f"error: {explain(exc, settings)}", file=sys.stderr)
        return 2


def check(settings: Settings) -> None:
    """Raise with a clear message when a configured service cannot start."""
    if settings.telegram_bot_token is not None:
        from bot.channels.telegram.app import check_token

        check_token(settings)
        refusal = settings.webhook_refusal()
        if refusal is not None:
            raise StartupRefused(f"webhook mode refused: {refusal}")
    if settings.wechat_app_id:
        from bot.channels.wechat.main import check_settings

        check_settings(settings)
    from bot.team.delivery import wecom_refusal

    refusal = wecom_refusal(settings)
    if refusal is not None:
        raise StartupRefused(refusal)
    warning = dotenv_warning()
    if warning is not None:
        log.warning("%s", warning)
    if not settings.encryption_keys():
        raise StartupRefused(
            "DATA_ENCRYPTION_KEYS is not set; the bot will not keep personal data unencrypted. "
            "Make a key with `python -m bot keygen` and put it in .env."
        )


async def _serve(settings: Settings) -> int:
    from bot.storage.commands import upgrade

    await upgrade(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.gather(*services(settings, stop))
    return 0


def services(settings: Settings, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
    """The configured services, each running until ``stop`` is set."""
    from bot.team.delivery import configured_reminders, serve_delivery
    from bot.team.reminders import use_reminder_kinds

    use_reminder_kinds(configured_reminders(settings))  # every process reminds every destination
    services: list[Coroutine[Any, Any, None]] = []
    telegram = settings.telegram_bot_token is not None
    if telegram:
        from bot.channels.telegram.app import serve

        services.append(serve(settings, stop))
    if settings.wechat_app_id:
        from bot.channels.wechat.main import serve_wechat

        services.append(serve_wechat(settings, stop, purge=not telegram))  # one daily purge
    if settings.web_port is not None:
        from bot.web.server import serve_web

        services.append(serve_web(settings, stop))
    services.append(serve_delivery(settings, stop, telegram=telegram))
    return services
