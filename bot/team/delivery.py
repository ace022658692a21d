"""Which team destinations are configured, and delivery to them beside the channels.

Destinations: the Telegram team chat (``STUDY_TEAM_CHAT_ID``, delivered by the Telegram
process's team side), the WeCom group robot (``WECOM_ROBOT_KEY``) and e-mail
(``HANDOFF_EMAIL`` with ``SMTP_HOST``), in any combination. The patient side queues one
outbox item per destination in the referral's own transaction, so each destination gets each
card once, whichever process delivers it.

:func:`serve_delivery` runs in every ``python -m bot run``: it posts to the WeCom robot, and,
when this process has no Telegram bot (a WeChat-only process), also sends the e-mails and
queues the reminders that the Telegram team side would otherwise take care of.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from bot.config import Settings
from bot.storage.store import Store
from bot.team import TEAM_REMINDER
from bot.team.cards import TeamTexts
from bot.team.mailer import SmtpMailer
from bot.team.outbox import OutboxWorker, Route, WorkerOptions
from bot.team.pacing import Pacer
from bot.team.reminders import WECOM_REMINDER, remind_every
from bot.team.wecom import WeComDestination, WeComRobot, WeComTexts

log = logging.getLogger(__name__)

REMINDER_EVERY = 300.0  # seconds between checks for referrals nobody acknowledged


def wecom_key(settings: Settings) -> str | None:
    """The robot's key, or None when no WeCom robot is configured."""
    key = settings.wecom_robot_key
    value = key.get_secret_value().strip() if key is not None else ""
    return value or None


def wecom_refusal(settings: Settings) -> str | None:
    """Why the WeCom settings cannot work, or None when they can (or WeCom is not used)."""
    key = wecom_key(settings)
    if key is None:
        return None
    if not all(c.isalnum() or c == "-" for c in key):
        return (
            "WECOM_ROBOT_KEY must be only the key=... part of the robot's webhook address "
            "(letters, digits and -), not the whole address."
        )
    if urlsplit(settings.wecom_base_url).scheme not in {"http", "https"}:
        return "WECOM_BASE_URL must be an http(s) address, e.g. https://qyapi.weixin.qq.com."
    if not settings.web_base_url:
        return (
            "WECOM_ROBOT_KEY is set but WEB_BASE_URL is not: WeCom cards link to the referral "
            "in the web console. Set WEB_BASE_URL to the console's public address."
        )
    return None


def configured_reminders(settings: Settings) -> tuple[str, ...]:
    """One reminder kind per configured team destination that can show reminders."""
    kinds: list[str] = []
    if settings.study_team_chat_id is not None:
        kinds.append(TEAM_REMINDER)
    if wecom_key(settings) is not None:
        kinds.append(WECOM_REMINDER)
    return tuple(kinds)


def wecom_pacer(settings: Settings) -> Pacer:
    """At most WECOM_PER_MINUTE posts in any WECOM_WINDOW_SECONDS, evenly apart at least."""
    window = settings.wecom_window_seconds
    return Pacer(settings.wecom_per_minute, window, min_interval=window / 60)


def wecom_destination(settings: Settings, store: Store, texts: TeamTexts) -> WeComDestination:
    """The robot's lane (the settings were checked with :func:`wecom_refusal`)."""
    key = wecom_key(settings)
    assert key is not None and settings.web_base_url
    robot = WeComRobot(
        settings.wecom_base_url,
        key,
        wecom_pacer(settings),
        window=settings.wecom_window_seconds,
    )
    return WeComDestination(store, robot, WeComTexts(texts, settings.web_base_url))


async def serve_delivery(
    settings: Settings,
    stop: asyncio.Event,
    *,
    telegram: bool,
    options: WorkerOptions | None = None,
    reminder_every: float = REMINDER_EVERY,
    grace: float = 10.0,
) -> None:
    """Deliver to the WeCom robot (and, without ``telegram`` here, e-mail and reminders)
    until ``stop`` is set; the item being sent is finished, claimed ones are given back."""
    wecom = wecom_key(settings) is not None
    mailer = None if telegram else SmtpMailer.from_settings(settings)
    if not wecom and mailer is None:
        return
    store = await Store.open(settings)
    texts = TeamTexts(settings.team_language)
    destination = wecom_destination(settings, store, texts) if wecom else None
    routes: list[Route] = [destination.route()] if destination is not None else []
    worker = OutboxWorker(
        store, None, texts, team_pacer=None, mailer=mailer, routes=routes, options=options
    )
    tasks = [asyncio.create_task(worker.run(), name="delivery")]
    if not telegram:
        hours = settings.handoff_reminder_hours
        reminders = remind_every(store, hours, reminder_every, on_queued=worker.wake)
        tasks.append(asyncio.create_task(reminders, name="reminders"))
    log.info("team delivery running (%s)", "WeCom robot" if wecom else "e-mail")
    try:
        await stop.wait()
    finally:
        worker.stop()
        await asyncio.wait(tasks[:1], timeout=grace)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception:
                    log.exception("team delivery: %s task failed", task.get_name())
        if destination is not None:
            await destination.robot.close()
        await store.close()
