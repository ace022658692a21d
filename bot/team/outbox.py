"""The outbox worker: every referral reaches the study team at least once, never flooded.

The patient side queues a ``referral_card`` (and perhaps a ``referral_email``) in the same
transaction that creates the referral; the team side queues ``patient_notice`` and
``team_reminder`` items. :class:`OutboxWorker` claims due items with a lease (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so any number of workers and processes can run), sends them
through a :class:`~bot.team.sending.Sender` (each kind as ``items.py`` sends it) and marks
them sent. It runs lanes side by side:

* **team** (cards, digests, reminders): paced by a :class:`~bot.team.pacing.Pacer` within
  Telegram's group limit. When more than ``digest_threshold`` cards are waiting (a burst),
  they all become ONE digest card and ONE CSV file (two outbox items of their own), and the
  cards are marked sent: nothing is dropped and the chat is not flooded. Each other
  :class:`Route` (the WeCom robot) is a lane like it, with kinds and a pacer of its own.
* **patients** (``patient_notice``): in the patient's own language (with a Telegram sender).
* **e-mail** (``referral_email``): only when a :class:`Mailer` is configured.

Failures (:class:`SendError`) are retried: after ``retry_after`` for a 429, else with
exponential backoff and jitter. A card whose ``card_message_id`` is set is never sent
again. Team items are never given up (the team chat may be misconfigured for a while; they
are retried at most every ``backoff_cap`` seconds); patient notices and e-mails are given up
after a permanent error (a blocked bot, a refused address) or ``give_up_after`` attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.storage.store import OutboxItem, Store
from bot.team import (
    CARD_EDIT,
    CARD_REDACTION,
    DIGEST_CSV,
    DIGEST_REDACTION,
    PATIENT_NOTICE,
    REFERRAL_CARD,
    REFERRAL_DIGEST,
    REFERRAL_EMAIL,
    TEAM_REMINDER,
)
from bot.team.cards import TeamTexts
from bot.team.claimers import claimer_gone, worker_name
from bot.team.items import ItemSenders, digest_key, redaction
from bot.team.pacing import Pacer
from bot.team.reminders import queue_patient_notice, remind, remind_every
from bot.team.sending import Mailer, Sender, SendError

__all__ = [
    "Mailer",
    "OutboxWorker",
    "Route",
    "SendError",
    "Sender",
    "WorkerOptions",
    "digest_key",
    "queue_patient_notice",
    "redaction",
    "remind",
    "remind_every",
]

log = logging.getLogger(__name__)

#: Kinds retried for ever (the team must get every referral).
NEVER_GIVE_UP = frozenset(
    {REFERRAL_CARD, REFERRAL_DIGEST, DIGEST_CSV, TEAM_REMINDER, CARD_REDACTION, DIGEST_REDACTION}
)


@dataclass
class WorkerOptions:
    poll_interval: float = 1.0  # seconds between claims when nothing is due
    lease: timedelta = field(default_factory=lambda: timedelta(minutes=5))
    digest_threshold: int = 15  # more cards waiting than this: one digest instead
    digest_gather: float = 1.0  # seconds to let a burst gather before its digest is made
    backoff_base: float = 2.0  # seconds before the first retry (then doubled, with jitter)
    backoff_cap: float = 300.0
    give_up_after: int = 20  # attempts, for notices and e-mails
    batch: int = 10  # notices or e-mails claimed at once
    digest_codes: int = 100  # reference codes shown on a digest card


Handler = Callable[[OutboxItem], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """A paced team destination: its kinds, its pacer, and how it sends and digests.

    The Telegram team chat is one (built by the worker itself); the WeCom robot is another
    (``bot/team/wecom.py``). Each gets its own lane with the same claims, leases, retries and
    burst rule: more than ``digest_threshold`` cards waiting become ``digest(refs)`` items.
    """

    name: str
    pacer: Pacer
    card: str  # the kind of one referral's card
    others: tuple[str, ...]  # digests and reminders, sent before waiting cards
    handle: Handler  # send one item of these kinds (raise SendError to retry)
    digest: Callable[[list[str]], Awaitable[None]]  # queue the digest items of these refs


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxWorker:
    """Deliver the outbox until :meth:`stop` (a cancel also gives claimed items back)."""

    def __init__(
        self,
        store: Store,
        sender: Sender | None,
        texts: TeamTexts,
        *,
        team_pacer: Pacer | None,
        mailer: Mailer | None = None,
        routes: Sequence[Route] = (),
        options: WorkerOptions | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.sender = sender  # None: no Telegram in this process (no cards there, no notices)
        self.texts = texts
        self.routes = tuple(routes)
        self.team_pacer = team_pacer  # None: no team chat configured, cards wait
        self.mailer = mailer
        self.options = options or WorkerOptions()
        self.worker_id = worker_id or worker_name()
        self._clock = clock
        self._rng = rng or random.Random()
        self._wakes: set[asyncio.Event] = set()  # one per running lane
        self._stopping = False
        self.sent: dict[str, int] = {}
        self.failures = 0
        self.digests = 0
        self.items = ItemSenders(
            store,
            sender,
            texts,
            mailer,
            clock=clock,
            digest_codes=self.options.digest_codes,
        )

    def wake(self) -> None:
        """Look for due items now (something was just queued)."""
        for event in self._wakes:
            event.set()

    def stop(self) -> None:
        """Finish the item being sent, give the other claimed items back, and end ``run``."""
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        """Run every lane this process can deliver until :meth:`stop` or a cancel."""
        await self._release_orphans()
        items = self.items
        lanes = []
        if self.sender is not None:
            lanes.append(self._lane((PATIENT_NOTICE,), items.notice))
            if self.team_pacer is not None:
                lanes.append(self._paced_lane(self._telegram_route(self.team_pacer)))
                lanes.append(self._lane((CARD_REDACTION, DIGEST_REDACTION), items.redact))
                lanes.append(self._lane((CARD_EDIT,), items.card_edit))
            else:
                log.warning("STUDY_TEAM_CHAT_ID is not set: referral cards wait in the outbox")
        lanes.extend(self._paced_lane(route) for route in self.routes)
        if self.mailer is not None:
            lanes.append(self._lane((REFERRAL_EMAIL,), items.email))
        # woken when items are queued (this process; other processes on PostgreSQL)
        subscription = self.store.subscribe_queued(self.wake)
        try:
            # return_exceptions: a cancel waits for every lane to give its items back
            results = await asyncio.gather(*lanes, return_exceptions=True)
        finally:
            await _unstoppable(subscription.close())
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _release_orphans(self) -> None:
        """Give back at once what a killed process of this machine still held (a restart
        after a SIGKILL), rather than leave it for the rest of its lease."""
        try:
            await self.store.release_claims(claimer_gone)
        except Exception:
            log.warning("outbox: claims of gone processes not checked; their leases will expire")

    # -- lanes -------------------------------------------------------------------------

    async def _forever(self, name: str, turn: Callable[[], Awaitable[float | None]]) -> None:
        """Run one lane's turns until stopped. A turn returns how long to idle (None: go on
        at once); a wake cuts the idling short. A failed turn (the database was away) is
        logged and tried again after the poll interval."""
        wake = asyncio.Event()  # the lane's own: cleared before each claim, so none is missed
        self._wakes.add(wake)
        try:
            while not self._stopping:
                wake.clear()
                try:
                    idle = await turn()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox: %s lane failed; trying again", name)
                    idle = self.options.poll_interval
                if idle is not None and not self._stopping:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancel that lands as its wait ends, and the lane would then run on
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(idle):
                            await wake.wait()
        finally:
            self._wakes.discard(wake)

    async def _lane(self, kinds: Sequence[str], handle: Handler) -> None:
        async def turn() -> float | None:
            items = await self._claim(kinds, self.options.batch)
            if not items:
                return self.options.poll_interval
            await self._process(items, handle)
            return None

        await self._forever(kinds[0], turn)

    def _telegram_route(self, pacer: Pacer) -> Route:
        others = (REFERRAL_DIGEST, DIGEST_CSV, TEAM_REMINDER)
        return Route(
            "team", pacer, REFERRAL_CARD, others, self.items.team_item, self.items.queue_digest
        )

    async def _paced_lane(self, route: Route) -> None:
        threshold = self.options.digest_threshold
        pacer = route.pacer

        async def turn() -> float | None:
            wait = pacer.delay()
            if wait > 0:  # claim only what can go out soon, so leases are not wasted
                return min(wait, self.options.poll_interval)
            others = await self._claim(route.others, 4)
            cards = await self._claim((route.card,), threshold + 1)
            if len(cards) > threshold:
                try:
                    await asyncio.sleep(self.options.digest_gather)
                    while True:
                        more = await self._claim((route.card,), 500)
                        cards += more
                        if len(more) < 500:
                            break
                    await self._make_digest(cards, route)  # claimed by the next turn
                except BaseException:
                    await _unstoppable(self._release([*others, *cards]))
                    raise
                cards = []
                if not others:
                    return None
            if not others and not cards:
                return self.options.poll_interval
            await self._process([*others, *cards], route.handle)
            return None

        await self._forever(route.name, turn)

    async def _claim(self, kinds: Sequence[str], limit: int) -> list[OutboxItem]:
        return await self.store.claim_outbox(
            self.worker_id, limit, lease=self.options.lease, kinds=list(kinds)
        )

    async def _process(self, items: list[OutboxItem], handle: Handler) -> None:
        claimed = time.monotonic()
        safe_for = self.options.lease.total_seconds() * 0.8
        pending = list(items)
        try:
            while pending and not self._stopping:
                item = pending[0]
                if time.monotonic() - claimed > safe_for:
                    break  # the lease is running out: let the items be claimed afresh
                try:
                    await handle(item)
                except SendError as exc:
                    pending.pop(0)
                    await self._failed(item, exc)
                    continue
                except Exception as exc:
                    pending.pop(0)
                    log.exception("outbox: %s item %d failed unexpectedly", item.kind, item.id)
                    await self._failed(item, SendError(type(exc).__name__))
                    continue
                pending.pop(0)
                if await self.store.mark_sent(item.id, self.worker_id):
                    self.sent[item.kind] = self.sent.get(item.kind, 0) + 1
                else:
                    log.warning("outbox: lease on item %d was lost before it was marked", item.id)
        finally:
            if pending:
                await _unstoppable(self._release(pending))

    async def _release(self, items: Sequence[OutboxItem]) -> None:
        """Give claimed items back (at a stop, or when the lease runs short)."""
        now = self._clock()
        for item in items:
            try:
                await self.store.mark_failed(item.id, self.worker_id, now, error="released")
            except Exception:
                log.warning("outbox: could not release item %d; its lease will expire", item.id)

    async def _failed(self, item: OutboxItem, error: SendError) -> None:
        options = self.options
        if error.retry_after is not None:
            delay = error.retry_after * (1.0 + self._rng.uniform(0.0, 0.2)) + 0.05
        elif error.permanent and item.kind in NEVER_GIVE_UP:
            delay = options.backoff_cap
        else:
            step = min(options.backoff_cap, options.backoff_base * 2 ** max(item.attempts - 1, 0))
            delay = step / 2 + self._rng.uniform(0.0, step / 2)
        give_up = item.kind not in NEVER_GIVE_UP and (
            error.permanent or item.attempts >= options.give_up_after
        )
        retry_at = self._clock() + timedelta(seconds=delay)
        await self.store.mark_failed(
            item.id, self.worker_id, retry_at, error=error.reason, give_up=give_up
        )
        self.failures += 1
        log.warning(
            "outbox: %s item %d failed (%s), attempt %d; %s",
            item.kind,
            item.id,
            error.reason,
            item.attempts,
            "given up" if give_up else f"retry in {delay:.2f} s",
        )

    # -- the burst ---------------------------------------------------------------------

    async def _make_digest(self, cards: list[OutboxItem], route: Route) -> None:
        """Turn waiting cards into the route's digest items, then mark the cards sent."""
        refs = list(dict.fromkeys(str(c.payload.get("ref") or c.dedupe_key) for c in cards))
        await route.digest(refs)
        for card in cards:
            await self.store.mark_sent(card.id, self.worker_id)
        self.digests += 1
        log.info("outbox: %d %s cards were waiting; a digest queued instead", len(refs), route.name)


async def _unstoppable(work: Awaitable[None]) -> None:
    """Run ``work`` to its end even if the caller is cancelled meanwhile (then re-raise)."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
