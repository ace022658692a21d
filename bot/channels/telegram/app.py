"""Build and run the Telegram application: all handler wiring in one place."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
from typing import TYPE_CHECKING

from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.channels.telegram.handlers import COMMANDS, TelegramChannel, command_menus
from bot.channels.telegram.ordering import ChatQueues, PerChatUpdateProcessor
from bot.channels.telegram.receipt import FAILED, Receiver
from bot.channels.telegram.request import AiohttpRequest
from bot.channels.telegram.sendpace import SendLimiter, SendLimits, SendPacer
from bot.channels.telegram.webhook import WebhookServer
from bot.config import Settings
from bot.engine.policy import N_, DataPolicy

if TYPE_CHECKING:
    from bot.channels.telegram.team import TeamOptions, TeamSide
    from bot.engine.engine import Engine

log = logging.getLogger(__name__)
TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")


class StartupError(RuntimeError):
    """The bot cannot start; the message says what to fix."""


def check_token(settings: Settings) -> str:
    """Return the token, or raise StartupError when it is missing or malformed."""
    if settings.telegram_bot_token is None:
        raise StartupError("TELEGRAM_BOT_TOKEN is not set. Get one from @BotFather.")
    token = settings.telegram_bot_token.get_secret_value().strip()
    if not TOKEN.match(token):
        raise StartupError(
            "TELEGRAM_BOT_TOKEN is malformed: it should look like 123456789:AAH... "
            "(from @BotFather)."
        )
    return token


def register(app: Application, channel: TelegramChannel) -> None:  # type: ignore[type-arg]
    """Wire every handler: private chats, taps, groups, and what the bot cannot read."""
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("start", channel.start, filters=private))
    app.add_handler(
        CommandHandler([c for c in COMMANDS if c != "start"], channel.command, filters=private)
    )
    app.add_handler(CallbackQueryHandler(channel.tap))
    app.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, channel.unreadable))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, channel.text))
    app.add_handler(MessageHandler(private & filters.CONTACT, channel.contact))
    app.add_handler(
        MessageHandler(
            private
            & (
                filters.Sticker.ALL
                | filters.PHOTO
                | filters.VOICE
                | filters.AUDIO
                | filters.VIDEO
                | filters.VIDEO_NOTE
                | filters.LOCATION
                | filters.VENUE
                | filters.Document.ALL
                | filters.ANIMATION
                | filters.POLL
            ),
            channel.unreadable,
        )
    )
    app.add_handler(MessageHandler(filters.ChatType.GROUPS, channel.group))
    app.add_error_handler(_on_error)


#: Where Telegram's servers are: said in both consents and in /privacy.
TRANSIT = N_(
    "Your messages to this bot go through Telegram's servers. They are outside mainland China."
)


def telegram_policy(settings: Settings) -> DataPolicy:
    """Return the data policy in force for the Telegram bot."""
    return DataPolicy.from_settings(settings, channel="Telegram", transit=TRANSIT, usernames=True)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a handler failure without personal data."""
    update_id = update.update_id if isinstance(update, Update) else None
    if update_id is not None:  # kept pending in the inbox, to be tried again
        context.application.bot_data.setdefault(FAILED, set()).add(update_id)
    error = context.error
    log.error("update %s failed: %s", update_id, type(error).__name__ if error else "unknown")


def file_url(settings: Settings) -> str:
    """Return the Bot API's base URL for files, next to ``TELEGRAM_BASE_URL``."""
    return settings.telegram_base_url.replace("/bot", "/file/bot")


def build_team_bot(settings: Settings, pacer: SendPacer | None = None) -> Bot:
    """Return the study team side's Bot (not yet initialised).

    Its sends take their turn on ``pacer`` (the patient bot's: one token, one set of limits)
    but a 429 is not retried there: it comes back to the outbox, which keeps the retry
    durable, instead of pausing every patient's replies.
    """
    return ExtBot(
        check_token(settings),
        base_url=settings.telegram_base_url,
        base_file_url=file_url(settings),
        request=AiohttpRequest(8, connect_timeout=10, read_timeout=20, write_timeout=20),
        get_updates_request=AiohttpRequest(1),  # never polls; PTB would make an httpx one
        rate_limiter=None if pacer is None else SendLimiter(pacer, max_retries=0, pauses=False),
    )


def build_application(
    settings: Settings,
    channel: TelegramChannel,
    *,
    request: BaseRequest | None = None,
    pacer: SendPacer | None = None,
) -> Application:  # type: ignore[type-arg]
    """Return the configured Application (not yet initialised).

    Its sends are paced by ``pacer`` (by default one of ``TELEGRAM_MAX_RATE`` and
    ``TELEGRAM_CHAT_BURST``); ``request`` replaces PTB's HTTP layer for every Bot API call
    (the benchmarks pass a stub).
    """
    pacer = pacer or SendPacer(SendLimits.from_settings(settings))
    builder = (
        ApplicationBuilder()
        .token(check_token(settings))
        .base_url(settings.telegram_base_url)
        .base_file_url(file_url(settings))
        .rate_limiter(SendLimiter(pacer))
        .concurrent_updates(PerChatUpdateProcessor(64))
    )
    if request is None:
        builder = builder.request(
            AiohttpRequest(256, connect_timeout=10, read_timeout=15)
        ).get_updates_request(AiohttpRequest(1, connect_timeout=10, read_timeout=40))
    else:
        builder = builder.request(request).get_updates_request(request)
    app = builder.build()
    register(app, channel)
    return app


async def set_command_menus(app: Application) -> None:  # type: ignore[type-arg]
    """Register the command menu in every language with setMyCommands (all at once)."""
    await asyncio.gather(
        *(
            app.bot.set_my_commands(commands, language_code=code)
            for code, commands in command_menus()
        )
    )


async def _menus_in_background(app: Application) -> None:  # type: ignore[type-arg]
    """Set the command menus without holding up the first update; log a failure."""
    try:
        await set_command_menus(app)
    except TelegramError as exc:
        log.warning("the command menus could not be set: %s", type(exc).__name__)


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    team_options: TeamOptions | None = None,
    limits: SendLimits | None = None,
) -> None:
    """Run the bot until ``stop`` is set: open storage, start polling or the webhook.

    Everything Telegram is wired here: the patient adapter's application, the study team's
    side (``team.py``, on a Bot of its own) and the receipt loop. The team's handlers come
    before the patient adapter's; the outbox worker and the reminders start once the
    application has started and are cancelled (claimed outbox items given back) before
    storage closes. Both bots' sends share one pacer of ``limits`` (by default the
    settings'). ``team_options`` shortens the team side's timings in tests.
    """
    from bot.channels.telegram.team import TeamSide
    from bot.conversations import Conversations
    from bot.ratelimit import FloodGuard
    from bot.storage.inbox import Inbox
    from bot.storage.retention import Retention, purge_daily
    from bot.storage.store import Store

    engine = _load_engine(settings)
    store = await Store.open(settings)
    purging = asyncio.create_task(purge_daily(store, Retention.from_settings(settings)))
    team: TeamSide | None = None
    try:
        flood = FloodGuard(
            rate=settings.flood_rate, burst=settings.flood_burst, flood_queue=settings.flood_queue
        )
        conversations = Conversations.from_settings(engine, store, settings)
        channel = TelegramChannel(conversations, settings.study_team_chat_id, flood)
        pacer = SendPacer(limits or SendLimits.from_settings(settings))
        app = build_application(settings, channel, pacer=pacer)
        team = TeamSide(settings, store, build_team_bot(settings, pacer), team_options)
        team.register(app)
        receiver = Receiver(app, Inbox(store), ChatQueues(64, flood))
        channel.on_replied = receiver.replied
        await _run(settings, app, team, receiver, stop)
    finally:
        if team is not None:
            await team.stop()
        purging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purging
        await store.close()


def _load_engine(settings: Settings) -> Engine:
    """Return the screening engine of ``FLOW`` under the Telegram data policy."""
    from bot.engine.engine import load_engine

    return load_engine(
        settings.flow,
        policy=telegram_policy(settings),
        contact_promise_days=settings.contact_promise_days,
        call_languages=settings.call_languages,
    )


async def _run(
    settings: Settings,
    app: Application,  # type: ignore[type-arg]
    team: TeamSide,
    receiver: Receiver,
    stop: asyncio.Event,
) -> None:
    """Start the application and the team side, then receive updates until ``stop``."""
    async with app:
        await app.start()
        # Updates are received at once; the menus (seven calls to the Bot API, a second
        # or more from far away) used to come first and hold up the first reply.
        menus = asyncio.create_task(_menus_in_background(app))
        await team.start()
        try:
            await _receive(settings, app, receiver, stop)
        finally:
            menus.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await menus


async def _receive(
    settings: Settings,
    app: Application,  # type: ignore[type-arg]
    receiver: Receiver,
    stop: asyncio.Event,
) -> None:
    """Receive updates (long polling or the webhook) until ``stop`` is set, then stop."""
    webhook: WebhookServer | None = None
    polling: asyncio.Task[None] | None = None
    try:
        if settings.webhook_url:
            secret = settings.webhook_secret
            webhook = WebhookServer(
                receiver,
                settings.webhook_url,
                secret.get_secret_value() if secret else None,
                settings.webhook_listen,
                settings.webhook_port,
            )
            await webhook.start()
        else:
            polling = asyncio.create_task(receiver.poll(stop))
        settle_heap()
        log.info("bot running (%s)", "webhook" if webhook else "long polling")
        if polling is not None:
            await polling
        else:
            await stop.wait()
    finally:
        gc.unfreeze()  # what the bot leaves behind can be collected again
        if webhook is not None:
            await webhook.stop()
        if polling is not None and not polling.done():
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        await receiver.finish()
        if app.running:
            await app.stop()


def settle_heap() -> None:
    """Collect once, then move everything start-up made (modules, catalogs, the flow and its
    machine, the application) out of the garbage collector's sight: its full collections
    would otherwise walk those objects again and again while updates arrive (about 4 % of
    an update's cost in the benchmarks)."""
    gc.collect()
    gc.freeze()


def explain(exc: BaseException, settings: Settings) -> str:
    """Turn a start-up failure into a message that says what to fix."""
    if isinstance(exc, InvalidToken):
        return (
            "The Bot API rejected TELEGRAM_BOT_TOKEN (Unauthorized). "
            "Check the token from @BotFather."
        )
    if isinstance(exc, (NetworkError, TimedOut)):
        return f"Cannot reach the Bot API at TELEGRAM_BASE_URL={settings.telegram_base_url}: {exc}"
    if isinstance(exc, TelegramError):
        return f"The Bot API refused to start: {exc}"
    return str(exc)
