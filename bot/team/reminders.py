"""Reminders about referrals nobody acknowledged, and the patient's notice on acknowledgement.

:func:`remind` queues ONE reminder item per team destination (the Telegram team chat's
``team_reminder``, the WeCom robot's ``wecom_reminder``) and marks the referrals reminded, so
whichever process checks first reminds every destination once. Which destinations those are
comes from the settings (:func:`use_reminder_kinds`, set by ``python -m bot run`` in every
process); until set, only the Telegram team chat is reminded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.conversations import TELEGRAM, person_key
from bot.storage.store import ReferralDetails, Store
from bot.team import PATIENT_NOTICE, TEAM_REMINDER

log = logging.getLogger(__name__)

WECOM_REMINDER = "wecom_reminder"

#: dedupe-key prefix of each reminder kind (one item per destination)
PREFIXES = {TEAM_REMINDER: "remind:", WECOM_REMINDER: "wecom:remind:"}

_kinds: tuple[str, ...] = (TEAM_REMINDER,)


def use_reminder_kinds(kinds: Sequence[str]) -> None:
    """Remind these destinations from now on (the configured ones; see ``bot/team/delivery``)."""
    global _kinds
    unknown = [kind for kind in kinds if kind not in PREFIXES]
    if unknown:
        raise ValueError(f"unknown reminder kinds: {unknown}")
    _kinds = tuple(kinds)


def reminder_kinds() -> tuple[str, ...]:
    """The reminder kinds queued by :func:`remind` when it is given none."""
    return _kinds


def utcnow() -> datetime:
    return datetime.now(UTC)


async def remind(
    store: Store,
    hours: int,
    *,
    kinds: Sequence[str] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> list[str]:
    """Queue one reminder per destination for the referrals nobody acknowledged within
    ``hours``."""
    refs = await store.referrals_to_remind(hours)
    if not refs:
        return []
    digest = hashlib.sha256(",".join(refs).encode()).hexdigest()[:16]
    bucket = clock().strftime("%Y%m%d%H%M")
    for kind in reminder_kinds() if kinds is None else kinds:
        key = f"{PREFIXES[kind]}{bucket}:{digest}"
        await store.enqueue(kind, key, {"refs": refs, "hours": hours})
    await store.mark_reminded(refs)
    log.info("reminder queued for %d referrals", len(refs))
    return refs


async def remind_every(
    store: Store,
    hours: int,
    every: float,
    *,
    on_queued: Callable[[], None] | None = None,
    kinds: Sequence[str] | None = None,
) -> None:
    """Run :func:`remind` every ``every`` seconds until cancelled."""
    while True:
        try:
            if await remind(store, hours, kinds=kinds) and on_queued is not None:
                on_queued()
        except Exception:
            log.exception("reminder check failed; trying again later")
        await asyncio.sleep(every)


async def queue_patient_notice(store: Store, details: ReferralDetails) -> None:
    """Queue the patient's notice (their language, their chat) on the first acknowledgement."""
    key: str | None = None
    if details.chat_id is not None:
        candidate = person_key(TELEGRAM, details.chat_id)  # a private chat's id: the user's
        if store.user_hash(candidate) == details.user_hash:
            key = candidate
    ref = details.ref_code
    await store.enqueue(PATIENT_NOTICE, f"ack:{ref}", {"ref": ref}, user_key=key)
