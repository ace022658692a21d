"""Durable receipt: no update is confirmed to Telegram before it is stored in the inbox.

Long polling: each getUpdates batch is written to the inbox in one transaction, and only
then does the next getUpdates call (whose offset confirms the batch) go out. The updates are
handled after that, one chat in order and chats side by side (``ChatQueues``); an update is
marked done once its handlers returned, that is after its turn committed and its replies went
out. At start-up whatever the last process left pending is handled first, in order.

Webhook: the POST is answered only after the update was handled the same way, so Telegram
sends again whatever a crash interrupted; a re-sent update already done is answered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Update
from telegram.error import (
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application

from bot import crashpoints
from bot.channels.telegram.ordering import ChatQueues
from bot.storage.inbox import MAX_ATTEMPTS, Inbox

log = logging.getLogger(__name__)
FAILED = "failed_updates"  # bot_data key: ids of updates whose handler raised
RETRY_PAUSES = (0.5, 1.0, 2.0, 5.0, 10.0)  # between failing getUpdates calls
PRUNE_EVERY = 1000  # batches between prunes of old done rows


def update_kind(update: Update) -> str:
    """Return the engine's kind of event for an update: tap, contact, command, text, other."""
    if update.callback_query is not None:
        return "tap"
    message = update.message
    if message is None:
        return "other"
    if message.contact is not None:
        return "contact"
    if message.text:
        return "command" if message.text.startswith("/") else "text"
    return "other"


class Receiver:
    """Fetch, store, then hand over Telegram updates; mark them done when handled."""

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        inbox: Inbox,
        queues: ChatQueues,
        *,
        timeout: int = 30,
    ) -> None:
        self.app = app
        self.inbox = inbox
        self.queues = queues
        self.timeout = timeout
        self.tasks: set[asyncio.Task[bool]] = set()
        self.received = 0
        self._marked: set[int] = set()  # marked done by the handler, right after its replies

    # -- handling -------------------------------------------------------------------------

    async def handle(self, update: Update, attempts: int = 0) -> bool:
        """Run the handlers for one update in its chat's turn; True when it is done."""
        work = lambda: self._handle(update, attempts)  # noqa: E731
        return await self.queues.run(update, work, update_kind(update))

    async def _handle(self, update: Update, attempts: int) -> bool:
        failed: set[int] = self.app.bot_data.setdefault(FAILED, set())
        await self.app.process_update(update)
        if update.update_id in failed:
            failed.discard(update.update_id)
            count = await self.inbox.failed(update.update_id)
            if count >= MAX_ATTEMPTS:
                log.error("update %s: given up after %d failures", update.update_id, count)
            return False
        if update.update_id in self._marked:
            self._marked.discard(update.update_id)
        else:
            await self._done(update)
        return True

    async def replied(self, update: Update) -> None:
        """Mark an update done as soon as its replies went out (before edits and the like)."""
        await self._done(update)
        self._marked.add(update.update_id)

    async def _done(self, update: Update) -> None:
        crashpoints.reached("replied", update_kind(update))
        await self.inbox.done(update.update_id)

    def dispatch(self, update: Update, attempts: int = 0) -> None:
        """Handle an update in the background (its chat's order is kept)."""
        task = asyncio.create_task(self.handle(update, attempts))
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handling an update failed: %s", type(task.exception()).__name__)

    async def drain_pending(self) -> int:
        """Hand over what an earlier process received and did not finish; return how many."""
        pending = await self.inbox.pending()
        for item in pending:
            update = Update.de_json(item.data, self.app.bot)
            self.dispatch(update, item.attempts)
        if pending:
            log.info("%d updates received before a restart handed over", len(pending))
        return len(pending)

    # -- long polling ---------------------------------------------------------------------

    async def poll(self, stop: asyncio.Event) -> None:
        """Fetch, store and dispatch batches until ``stop`` is set."""
        await self.drain_pending()
        await self.app.bot.delete_webhook()
        offset: int | None = None
        failures = 0
        batches = 0
        while not stop.is_set():
            try:
                updates = await self._fetch(offset, stop)
            except (InvalidToken, asyncio.CancelledError):
                raise
            except TelegramError as exc:  # 5xx, 429, timeouts, another poller: try again
                pause = RETRY_PAUSES[min(failures, len(RETRY_PAUSES) - 1)]
                if isinstance(exc, RetryAfter):
                    wait = exc.retry_after
                    pause = wait if isinstance(wait, int | float) else wait.total_seconds()
                failures += 1
                log.warning("getUpdates failed (%s); again in %.1f s", type(exc).__name__, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                continue
            failures = 0
            if not updates:
                continue
            offset = await self.store(updates)
            batches += 1
            if batches % PRUNE_EVERY == 0:
                await self.inbox.prune()
        if offset is not None:  # confirm the last batch (stored already) on a clean stop
            with contextlib.suppress(NetworkError, TimedOut, Conflict):
                await self.app.bot.get_updates(offset=offset, timeout=0)

    async def _fetch(self, offset: int | None, stop: asyncio.Event) -> tuple[Update, ...] | None:
        """One getUpdates call, given up when ``stop`` is set first."""
        call = asyncio.ensure_future(
            self.app.bot.get_updates(
                offset=offset,
                timeout=self.timeout,
                allowed_updates=Update.ALL_TYPES,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({call, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if call not in done:
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call
            return None
        stopping.cancel()
        updates: tuple[Update, ...] = call.result()
        return updates

    async def store(self, updates: tuple[Update, ...] | list[Update]) -> int:
        """Keep a batch in the inbox, dispatch what is new; return the next offset."""
        kinds = {update_kind(u) for u in updates}
        for kind in kinds:
            crashpoints.reached("fetched", kind)
        batch: list[tuple[int, dict[str, Any]]] = [(u.update_id, u.to_dict()) for u in updates]
        fresh = await self.inbox.receive(batch)
        for kind in kinds:
            crashpoints.reached("received", kind)
        for update in updates:
            if update.update_id in fresh:
                self.received += 1
                self.dispatch(update)
            else:
                log.info("update %s: received before, skipped", update.update_id)
        return updates[-1].update_id + 1

    async def finish(self, grace: float = 10.0) -> None:
        """Let handling in progress finish (what does not stays pending for the next start)."""
        if self.tasks:
            _, late = await asyncio.wait(set(self.tasks), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
