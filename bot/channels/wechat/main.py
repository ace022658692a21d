"""Run the WeChat channel: check its settings, open storage, serve until stopped."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re

from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.channel import WeChatChannel
from bot.channels.wechat.protocol import Protocol
from bot.channels.wechat.server import WeChatServer, wechat_policy
from bot.config import Settings

log = logging.getLogger(__name__)
APP_ID = re.compile(r"^wx[0-9a-f]{16}$")
TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")


class WeChatSettingsError(RuntimeError):
    """A WeChat setting is missing or wrong; the message says which and how to fix it."""


def check_settings(settings: Settings) -> Protocol:
    """Return the protocol the settings describe, or raise WeChatSettingsError."""
    app_id = (settings.wechat_app_id or "").strip()
    if not APP_ID.match(app_id):
        raise WeChatSettingsError(
            "WECHAT_APP_ID is malformed: it looks like wx followed by 16 letters and digits "
            "(Official Account platform → Settings and development → Basic configuration)."
        )
    token = settings.wechat_token.get_secret_value().strip() if settings.wechat_token else ""
    if not TOKEN.match(token):
        raise WeChatSettingsError(
            "WECHAT_TOKEN must be the 3-32 letters and digits entered as Token in the "
            "Official Account's server configuration."
        )
    aes = settings.wechat_aes_key.get_secret_value().strip() if settings.wechat_aes_key else ""
    if settings.wechat_safe_mode and not _valid_aes_key(aes):
        raise WeChatSettingsError(
            "WECHAT_AES_KEY must be the 43-character EncodingAESKey of the server "
            "configuration (or set WECHAT_SAFE_MODE=false for plain-text mode)."
        )
    if settings.wechat_customer_service and settings.wechat_app_secret is None:
        raise WeChatSettingsError(
            "WECHAT_CUSTOMER_SERVICE=true needs WECHAT_APP_SECRET for the access token."
        )
    if settings.wechat_menus and not settings.wechat_customer_service:
        raise WeChatSettingsError(
            "WECHAT_MENUS=true needs WECHAT_CUSTOMER_SERVICE=true: menus are "
            "customer-service messages."
        )
    return Protocol(token, app_id, aes or None, safe=settings.wechat_safe_mode)


def _valid_aes_key(key: str) -> bool:
    if len(key) != 43:
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


async def serve_wechat(
    settings: Settings,
    stop: asyncio.Event,
    *,
    purge: bool = True,
    started: asyncio.Event | None = None,
) -> None:
    """Run the channel until ``stop`` is set (``purge``: also delete data past retention).

    ``started`` is set once the server listens.
    """
    from bot.conversations import Conversations
    from bot.engine.engine import load_engine
    from bot.ratelimit import FloodGuard
    from bot.storage.retention import Retention, purge_daily
    from bot.storage.store import Store

    protocol = check_settings(settings)
    engine = load_engine(
        settings.flow,
        typed=True,  # options are answered by typing their number
        policy=wechat_policy(settings),
        contact_promise_days=settings.contact_promise_days,
        call_languages=settings.call_languages,
    )
    api = None
    if settings.wechat_customer_service and settings.wechat_app_secret is not None:
        secret = settings.wechat_app_secret.get_secret_value()
        api = WeChatAPI(settings.wechat_base_url, protocol_app_id(settings), secret)
    store = await Store.open(settings)
    purging = (
        asyncio.create_task(purge_daily(store, Retention.from_settings(settings)))
        if purge
        else None
    )
    server: WeChatServer | None = None
    try:
        conversations = Conversations.from_settings(engine, store, settings)
        flood = FloodGuard(rate=settings.flood_rate, burst=settings.flood_burst)
        channel = WeChatChannel(conversations, protocol, api, flood, menus=settings.wechat_menus)
        server = WeChatServer(
            channel, settings.wechat_listen, settings.wechat_port, settings.wechat_path
        )
        await server.start()
        log.info("WeChat channel listening on port %s", settings.wechat_port)
        if started is not None:
            started.set()
        await stop.wait()
    finally:
        if server is not None:
            await server.stop()
        if purging is not None:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
        if api is not None:
            await api.close()
        await store.close()


def protocol_app_id(settings: Settings) -> str:
    """Return the app id as configured (checked by :func:`check_settings`)."""
    return (settings.wechat_app_id or "").strip()
