"""``python -m bot run`` for Telegram: check the configuration, migrate, serve, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.channels.telegram.app import StartupError, check_token, explain, serve
from bot.config import Settings, dotenv_warning
from bot.storage.errors import StorageError

log = logging.getLogger(__name__)


def run_telegram(settings: Settings) -> int:
    """Run the Telegram bot; print a clear message and return non-zero when it cannot start."""
    try:
        check_token(settings)
        refusal = settings.webhook_refusal()
        if refusal is not None:
            raise StartupError(f"webhook mode refused: {refusal}")
        warning = dotenv_warning()
        if warning is not None:
            log.warning("%s", warning)
        if not settings.encryption_keys():
            raise StartupError(
                "DATA_ENCRYPTION_KEYS is not set; the bot will not keep personal data unencrypted. "
                "Make a key with `python -m bot keygen` and put it in .env."
            )
        return asyncio.run(_main(settings))
    except (StartupError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the Bot API or the network refused at start-up
        print(f"error: {explain(exc, settings)}", file=sys.stderr)
        return 2


async def _main(settings: Settings) -> int:
    from bot.storage.commands import upgrade

    await upgrade(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if settings.web_port is None:
        await serve(settings, stop)
        return 0
    from bot.web.server import serve_web

    await asyncio.gather(serve(settings, stop), serve_web(settings, stop))
    return 0
