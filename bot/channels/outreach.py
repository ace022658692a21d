"""QR codes for posters and flyers: a Telegram deep link or a WeChat parameterised QR code.

Both carry ``<source>__<lang>``: the outreach source and the language the bot starts in.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import segno

from bot.config import Settings
from bot.i18n import LANGUAGES

SOURCE = re.compile(r"^[A-Za-z0-9-]{1,40}$")
BOT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


class OutreachError(ValueError):
    """The source, language or bot name cannot make a working code."""


def payload(source: str, lang: str) -> str:
    """Return ``<source>__<lang>``, the start payload and QR scene both channels read."""
    if not SOURCE.match(source):
        raise OutreachError("--source must be 1-40 letters, digits or hyphens")
    if lang not in LANGUAGES:
        raise OutreachError(f"--lang must be one of {', '.join(LANGUAGES)}")
    return f"{source.lower()}__{lang}"


def telegram_link(bot: str, source: str, lang: str) -> str:
    """Return the deep link that opens the bot with the source and the language."""
    if not BOT_NAME.match(bot.lstrip("@")):
        raise OutreachError("--bot must be the bot's user name, e.g. CZTrialBot")
    return f"https://t.me/{bot.lstrip('@')}?start={payload(source, lang)}"


async def wechat_link(settings: Settings, source: str, lang: str) -> str:
    """Ask the Official Account API for a permanent QR code with the scene; return its URL."""
    from bot.channels.wechat.api import WeChatAPI

    if not settings.wechat_app_id or settings.wechat_app_secret is None:
        raise OutreachError("WECHAT_APP_ID and WECHAT_APP_SECRET are needed for a WeChat QR code")
    api = WeChatAPI(
        settings.wechat_base_url,
        settings.wechat_app_id.strip(),
        settings.wechat_app_secret.get_secret_value(),
    )
    try:
        return await api.qr_url(payload(source, lang))
    finally:
        await api.close()


def link(settings: Settings, channel: str, source: str, lang: str, bot: str = "") -> str:
    """Return what the QR code encodes for ``channel``."""
    if channel == "telegram":
        return telegram_link(bot, source, lang)
    return asyncio.run(wechat_link(settings, source, lang))


def draw(data: str, output: str | None) -> str:
    """Save the QR code to ``output`` (.png or .svg), or return it drawn for a terminal."""
    code = segno.make(data, error="m", micro=False)
    if output:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        code.save(str(path), scale=10, border=4)
        return ""
    buffer = io.StringIO()
    code.terminal(out=buffer, compact=True)
    return buffer.getvalue()
