"""The study team's side in Telegram, put together: the outbox worker, the reminders and the
team chat's handlers, sharing one sender and one pacer.

* :class:`~bot.channels.telegram.team_sender.TelegramSender` (``team_sender.py``) sends the
  cards, lists, files and patients' notices.
* :class:`~bot.channels.telegram.team_gate.Gatekeeper` (``team_gate.py``) says who may act.
* :class:`~bot.channels.telegram.team_handlers.TeamHandlers` (``team_handlers.py``) answers
  the card buttons and ``/referrals``, ``/export``, ``/stats``.
* :class:`TeamSide` holds them for ``serve()`` (``app.py``, which builds its ``Bot``):
  ``register(app)`` before the application starts, ``start()`` after (the outbox worker and
  the reminder task), ``stop()`` at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import Application

from bot.channels.telegram.team_gate import Gatekeeper
from bot.channels.telegram.team_handlers import TeamHandlers
from bot.channels.telegram.team_sender import TelegramSender
from bot.config import Settings
from bot.i18n import LANGUAGES, get_catalogs
from bot.storage.store import Store
from bot.team.cards import TeamTexts
from bot.team.mailer import SmtpMailer
from bot.team.outbox import OutboxWorker, WorkerOptions, remind_every
from bot.team.pacing import Pacer

__all__ = ["Gatekeeper", "TeamHandlers", "TeamOptions", "TeamSide", "TelegramSender"]

log = logging.getLogger(__name__)


def warm_locales() -> None:
    """Load Babel's number data for every language now (about 0.1 s), not while the first
    patient, or the first notice, waits for it."""
    catalogs = get_catalogs()
    for lang in LANGUAGES:
        catalogs.get(lang).number(1.5)


async def _warm_charts() -> None:
    """Import matplotlib and find the CJK font in a thread, so the first /stats is quick."""

    def warm() -> None:
        from matplotlib.figure import Figure  # noqa: F401

        from bot.team.stats import cjk_font

        cjk_font()

    try:
        await asyncio.to_thread(warm)
    except Exception:
        log.warning("team: chart warm-up failed", exc_info=True)


@dataclass
class TeamOptions:
    """Timings of the team side; the defaults suit Telegram, tests make them short."""

    worker: WorkerOptions = field(default_factory=WorkerOptions)
    team_per_minute: int = 18  # Telegram allows about 20 messages a minute to a group
    team_window: float = 60.0
    team_min_interval: float = 3.0
    people_per_second: int = 25  # Telegram allows about 30 a second overall
    reminder_every: float = 300.0
    refusal_every: float = 600.0


class TeamSide:
    """Everything of the study team's side that ``serve()`` wires."""

    def __init__(
        self, settings: Settings, store: Store, bot: Bot, options: TeamOptions | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.options = options or TeamOptions()
        opts = self.options
        self.bot = bot
        team_chat = settings.study_team_chat_id
        self.team_pacer = Pacer(opts.team_per_minute, opts.team_window, opts.team_min_interval)
        self.people_pacer = Pacer(opts.people_per_second, 1.0)
        self.texts = TeamTexts(settings.team_language)
        warm_locales()
        self.sender = TelegramSender(
            self.bot, team_chat, team_pacer=self.team_pacer, people_pacer=self.people_pacer
        )
        self.worker = OutboxWorker(
            store,
            self.sender,
            self.texts,
            team_pacer=self.team_pacer if team_chat is not None else None,
            mailer=SmtpMailer.from_settings(settings),
            options=opts.worker,
        )
        self.gate = Gatekeeper(self.bot, team_chat, settings.coordinator_user_ids)
        self.handlers = TeamHandlers(
            store,
            self.sender,
            self.texts,
            self.gate,
            team_chat_id=team_chat,
            wake=self.worker.wake,
            refusal_every=opts.refusal_every,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add the team chat's handlers to the application, before the patient adapter's."""
        self.handlers.register(app)

    async def start(self) -> None:
        """Start the outbox worker and the reminders (after the application started)."""
        await self.bot.initialize()
        await self._command_menu()
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="outbox"),
            asyncio.create_task(
                remind_every(
                    self.store,
                    self.settings.handoff_reminder_hours,
                    self.options.reminder_every,
                    on_queued=self.worker.wake,
                ),
                name="reminders",
            ),
        ]
        self._tasks.append(asyncio.create_task(_warm_charts(), name="chart warm-up"))
        log.info("team side running (worker %s)", self.worker.worker_id)

    async def _command_menu(self) -> None:
        chat = self.settings.study_team_chat_id
        if chat is None:
            return
        t = self.texts.t
        commands = [
            BotCommand("referrals", t.gettext("Open referrals")),
            BotCommand("export", t.gettext("All referrals as a CSV file")),
            BotCommand("stats", t.gettext("Screening funnel chart")),
        ]
        try:
            await self.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat))
        except TelegramError as exc:
            log.warning("team: command menu not set (%s)", type(exc).__name__)

    async def stop(self, grace: float = 10.0) -> None:
        """Let the outbox finish the item it is sending (claimed items are given back),
        cancel the other tasks, and close the bot."""
        self.worker.stop()
        outbox = [t for t in self._tasks if t.get_name() == "outbox"]
        if outbox:
            await asyncio.wait(outbox, timeout=grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception:
                    log.exception("team: %s task failed", task.get_name())
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.bot.shutdown()
