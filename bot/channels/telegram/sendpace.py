"""Pace the messages the bot sends within Telegram's limits; let every other call through.

Telegram's Bot FAQ ("My bot is hitting limits, how do I avoid this?"): in one chat "avoid
sending more than one message per second" ("we may allow short bursts"), "no more than 20
messages per minute to the same group", and for bulk notifications "no more than 30
messages per second or so". Those limits speak of sending messages, so only the methods in
:data:`SENDS` are paced; edits, ``answerCallbackQuery``, ``getUpdates`` and everything else
go at once.

:class:`SendPacer` holds the state: a sliding window for the whole bot (at most ``count``
sends in any ``window``), first come, first served, and a lane per chat (a bucket of
``chat_burst`` sends refilled once per ``chat_interval`` for a private chat; a sliding
window of ``group_per_minute`` for a group). A send waiting for its own chat never holds up
another chat's. A send keeps its place in the windows from the moment it goes until its
answer (Telegram counts it somewhere in between; under load an answer can come seconds
later, and counting from the request alone then gave 429s), at most ``allowance``. A 429
pauses every send for its ``retry_after``. :class:`SendLimiter` is PTB's ``BaseRateLimiter`` on a
pacer: it retries a 429 a bounded number of times. Two limiters may share one pacer (the
patient bot's and the team side's, which send with the same token).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.channels.telegram.sendclock import Clock, MonotonicClock
from bot.channels.telegram.team_sender import retry_seconds

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

#: The Bot API methods that send messages: only these are paced.
SENDS = frozenset(
    {
        "sendMessage", "sendPhoto", "sendAudio", "sendDocument", "sendVideo",
        "sendAnimation", "sendVoice", "sendVideoNote", "sendPaidMedia", "sendMediaGroup",
        "sendLocation", "sendVenue", "sendContact", "sendPoll", "sendChecklist", "sendDice",
        "sendSticker", "sendInvoice", "sendGame", "copyMessage", "copyMessages",
        "forwardMessage", "forwardMessages",
    }
)  # fmt: skip
#: Methods that send several messages at once, and the parameter listing them.
MANY = {"sendMediaGroup": "media", "copyMessages": "message_ids", "forwardMessages": "message_ids"}

Result = bool | JSONDict | list[JSONDict]
Callback = Callable[..., Coroutine[Any, Any, Result]]


@dataclass(frozen=True)
class SendLimits:
    """Telegram's limits as the pacer keeps them; ``time_scale`` runs them all faster."""

    per_second: float = 30.0  # sends a second for the whole bot (TELEGRAM_MAX_RATE)
    chat_burst: int = 3  # sends a private chat may take at once (TELEGRAM_CHAT_BURST)
    chat_interval: float = 1.0  # then one per this many seconds
    group_per_minute: int = 20
    max_retries: int = 5  # a 429 is retried this many times, then reaches the caller
    # seconds a send may hold its place while its answer is awaited (real seconds, not
    # scaled: longer than PTB's time-outs, so in practice until the answer or the error)
    allowance: float = 30.0
    time_scale: float = 1.0  # > 1 in time-compressed benchmarks (every time divided by it)

    @classmethod
    def from_settings(cls, settings: Settings, time_scale: float = 1.0) -> SendLimits:
        """Return the limits of ``TELEGRAM_MAX_RATE`` and ``TELEGRAM_CHAT_BURST``."""
        return cls(
            per_second=settings.telegram_max_rate,
            chat_burst=settings.telegram_chat_burst,
            time_scale=time_scale,
        )

    @property
    def count(self) -> int:
        """Sends allowed in any :attr:`window` (``per_second`` in a second, at least one)."""
        return max(1, math.floor(self.per_second / self.time_scale))

    @property
    def window(self) -> float:
        """The sliding window, in seconds, in which :attr:`count` sends may go."""
        return self.count / self.per_second


def messages_in(endpoint: str, data: dict[str, Any]) -> int:
    """Return how many messages a call sends (0 for a call that sends none)."""
    if endpoint not in SENDS:
        return 0
    many = MANY.get(endpoint)
    items = data.get(many) if many else None
    return max(1, len(items)) if isinstance(items, (list, tuple)) else 1


def lane_key(data: dict[str, Any]) -> int | str | None:
    """Return the chat a call sends to: an int, an ``@username`` (a channel), or None."""
    chat_id = data.get("chat_id")
    if isinstance(chat_id, str):
        with contextlib.suppress(ValueError):
            return int(chat_id)
    return chat_id if isinstance(chat_id, (int, str)) else None


def is_group(key: int | str | None) -> bool:
    """Return whether sends to ``key`` follow the group limit (negative ids, @channels)."""
    return isinstance(key, str) or (isinstance(key, int) and key < 0)


@dataclass(eq=False)
class Slot:
    """One send's place in the windows: counted until ``held`` plus each window's length."""

    held: float  # release + allowance while in flight; then when its answer came, if sooner
    size: int
    lane: Lane


@dataclass(eq=False)
class Waiter:
    """A send waiting for its turn."""

    ticket: int
    seq: int  # unique: a retried send keeps its ticket
    size: int
    lane: Lane
    future: asyncio.Future[Slot]


class Window:
    """A sliding window: at most ``limit`` messages in any ``length`` seconds."""

    def __init__(self, limit: int, length: float) -> None:
        """Start empty."""
        self.limit, self.length = limit, length
        self.slots: deque[Slot] = deque()
        self.total = 0  # the size of every slot listed (some may have expired early)

    def add(self, slot: Slot) -> None:
        """Count ``slot``."""
        self.slots.append(slot)
        self.total += slot.size

    def remove(self, slot: Slot) -> None:
        """Stop counting ``slot`` (a turn given back)."""
        with contextlib.suppress(ValueError):
            self.slots.remove(slot)
            self.total -= slot.size

    def counted(self, now: float) -> int:
        """Return the size that counts at ``now``."""
        return sum(s.size for s in self.slots if s.held + self.length > now)

    def free_at(self, size: int, now: float) -> float | None:
        """Return when ``size`` more fit, or None when they fit now."""
        slots, length = self.slots, self.length
        while slots and slots[0].held + length <= now:
            self.total -= slots.popleft().size
        over = self.total + min(size, self.limit) - self.limit
        if over <= 0:
            return None  # fits even counting every slot listed
        ends = sorted((s.held + length, s.size) for s in slots)
        over -= sum(w for end, w in ends if end <= now)
        for end, w in ends:
            if end > now and over > 0:
                over -= w
                if over <= 0:
                    return end
        return None


@dataclass(eq=False)
class Lane:
    """One chat's sends: waiting in order, and what it has sent lately."""

    key: int | str | None
    waiting: deque[Waiter] = field(default_factory=deque)
    due: float = -math.inf  # private chat: the bucket's theoretical arrival time (GCRA)
    sent: Window | None = None  # group: its recent sends


class SendPacer:
    """First come, first served within Telegram's limits (see the module's docstring)."""

    def __init__(self, limits: SendLimits, clock: Clock | None = None) -> None:
        """Keep ``limits``, timed by ``clock`` (the real monotonic clock by default)."""
        self.limits = limits
        self.clock: Clock = clock or MonotonicClock()
        scale = limits.time_scale
        self.interval = limits.chat_interval / scale
        self.group_window = 60.0 / scale
        self.allowance = limits.allowance
        self.paused_until = -math.inf
        self._tickets = itertools.count()
        self._seq = itertools.count()
        self._sent = Window(limits.count, limits.window)
        self._lanes: dict[int | str | None, Lane] = {}
        self._ready: list[tuple[int, int, Waiter]] = []  # lane heads their chat lets go, by ticket
        self._later: list[tuple[float, int, int, Waiter]] = []  # the other lane heads, by time
        self._prune_at = 1024  # lanes kept before idle ones are dropped
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.waiting = 0

    def ticket(self) -> int:
        """Return the next place in the queue."""
        return next(self._tickets)

    async def acquire(self, key: int | str | None, size: int, ticket: int) -> Slot:
        """Wait for the turn of a send of ``size`` messages to ``key``; return its slot."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(key)
        size, now = min(size, self.limits.count), self.clock.now()
        if not self.waiting and self._may_go(lane, size, now):
            return self._take(lane, size, now)  # nobody ahead: no queue to join
        future: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        waiter = Waiter(ticket, next(self._seq), size, lane, future)
        lane.waiting.append(waiter)
        self.waiting += 1
        if len(lane.waiting) == 1:
            self._queue_head(lane, now)
        self._wake()
        try:
            return await future
        except asyncio.CancelledError:
            self._leave(waiter)
            raise

    def done(self, slot: Slot) -> None:
        """Note that a send's answer came: its place is counted from now at the latest."""
        slot.held = min(slot.held, self.clock.now())
        lane = slot.lane
        if not is_group(lane.key):
            lane.due = max(lane.due, slot.held + slot.size * self.interval)
        self._kick.set()

    def pause(self, seconds: float) -> None:
        """Hold every send for Telegram's flood wait (``retry_after``, in its seconds)."""
        self.paused_until = max(
            self.paused_until, self.clock.now() + seconds / self.limits.time_scale
        )
        self._kick.set()

    async def close(self) -> None:
        """Stop the dispatcher (a later send starts it again)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def in_window(self, now: float) -> int:
        """Return how many messages count against the whole bot's window at ``now``."""
        return self._sent.counted(now)

    # ------------------------------------------------------------------ the queue

    def _wake(self) -> None:
        """Start the dispatcher if it is not running, and let it look again."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._kick.set()

    async def _run(self) -> None:
        """Hand out turns until nobody waits."""
        while self.waiting:
            self._kick.clear()
            wake = self._dispatch(self.clock.now())
            await self.clock.wait(self._kick, wake)

    def _dispatch(self, now: float) -> float | None:
        """Grant every turn that may go at ``now``; return when to look again (None: on news)."""
        if now < self.paused_until:
            return self.paused_until
        while self._later and self._later[0][0] <= now:
            waiter = heapq.heappop(self._later)[-1]
            if self._is_head(waiter):
                heapq.heappush(self._ready, (waiter.ticket, waiter.seq, waiter))
        while self._ready:
            waiter = self._ready[0][-1]
            if not self._is_head(waiter):
                heapq.heappop(self._ready)
                continue
            free_at = self._sent.free_at(waiter.size, now)
            if free_at is not None:
                return free_at
            heapq.heappop(self._ready)
            at = self._lane_free_at(waiter.lane, waiter.size, now)
            if at is not None:  # an answer came since: its chat's turn moved on
                heapq.heappush(self._later, (at, waiter.ticket, waiter.seq, waiter))
                continue
            self._grant(waiter, now)
        return self._later[0][0] if self._later else None

    def _grant(self, waiter: Waiter, now: float) -> None:
        """Give ``waiter`` its turn at ``now`` and put its lane's next send in the queue."""
        lane = waiter.lane
        lane.waiting.popleft()
        self.waiting -= 1
        waiter.future.set_result(self._take(lane, waiter.size, now))
        if lane.waiting:
            self._queue_head(lane, now)

    def _may_go(self, lane: Lane, size: int, now: float) -> bool:
        """Return whether a send of ``size`` to ``lane`` may go at ``now``."""
        if now < self.paused_until or self._sent.free_at(size, now) is not None:
            return False
        return self._lane_free_at(lane, size, now) is None

    def _take(self, lane: Lane, size: int, now: float) -> Slot:
        """Count a send of ``size`` to ``lane`` going at ``now``; return its slot."""
        slot = Slot(now + self.allowance, size, lane)
        self._sent.add(slot)
        if lane.sent is not None:
            lane.sent.add(slot)
        elif lane.key is not None:
            lane.due = max(lane.due, now) + size * self.interval
        if len(self._lanes) > self._prune_at:
            self._forget_idle(now)
            self._prune_at = max(1024, 2 * len(self._lanes))
        return slot

    def _queue_head(self, lane: Lane, now: float) -> None:
        """Put the first send of ``lane`` in the queue: ready now, or at its chat's time."""
        waiter = lane.waiting[0]
        at = self._lane_free_at(lane, waiter.size, now)
        if at is None:
            heapq.heappush(self._ready, (waiter.ticket, waiter.seq, waiter))
        else:
            heapq.heappush(self._later, (at, waiter.ticket, waiter.seq, waiter))

    def _lane_free_at(self, lane: Lane, size: int, now: float) -> float | None:
        """Return when ``lane``'s chat lets ``size`` messages go, or None for now."""
        if lane.key is None:
            return None
        if is_group(lane.key):
            if lane.sent is None:
                lane.sent = Window(self.limits.group_per_minute, self.group_window)
            return lane.sent.free_at(size, now)
        burst = max(self.limits.chat_burst, 1)
        at = lane.due - (burst - min(size, burst)) * self.interval
        return at if at > now else None

    def _is_head(self, waiter: Waiter) -> bool:
        """Return whether ``waiter`` still waits, first in its lane."""
        waiting = waiter.lane.waiting
        return bool(waiting) and waiting[0] is waiter and not waiter.future.done()

    def _leave(self, waiter: Waiter) -> None:
        """Take a cancelled send out of the queue, or give back the turn it was granted."""
        lane = waiter.lane
        if waiter.future.done() and not waiter.future.cancelled():
            slot = waiter.future.result()
            self._sent.remove(slot)
            if lane.sent is not None:
                lane.sent.remove(slot)
        else:
            was_head = lane.waiting[0] is waiter
            lane.waiting.remove(waiter)
            self.waiting -= 1
            if was_head and lane.waiting:
                self._queue_head(lane, self.clock.now())
        self._kick.set()

    def _forget_idle(self, now: float) -> None:
        """Drop the lanes of chats that wait for nothing and whose limits are back in full."""
        for key, lane in list(self._lanes.items()):
            if lane.waiting or lane.due > now:
                continue
            if lane.sent is not None and lane.sent.counted(now):
                continue
            del self._lanes[key]


class SendLimiter(BaseRateLimiter[int]):
    """PTB's rate limiter on a :class:`SendPacer`: sends are paced, a 429 retried."""

    def __init__(
        self, pacer: SendPacer, *, max_retries: int | None = None, pauses: bool = True
    ) -> None:
        """Pace on ``pacer``; retry a 429 ``max_retries`` times (default: its limits').

        With ``pauses`` a 429 holds every send of the pacer for its ``retry_after``; without,
        the error goes straight back to the caller (the team side's outbox retries it).
        """
        self.pacer = pacer
        self.max_retries = pacer.limits.max_retries if max_retries is None else max_retries
        self.pauses = pauses

    async def initialize(self) -> None:
        """Nothing to set up: the pacer starts with the first send."""

    async def shutdown(self) -> None:
        """Stop the pacer's dispatcher."""
        await self.pacer.close()

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Send when the limits allow (other calls at once); wait out and retry a 429."""
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        size = messages_in(endpoint, data)
        if not size:
            return await self._unpaced(callback, args, kwargs, retries)
        key, ticket = lane_key(data), self.pacer.ticket()
        for attempt in itertools.count():
            slot = await self.pacer.acquire(key, size, ticket)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if self.pauses:
                    self.pacer.pause(retry_seconds(exc))
                if attempt >= retries:
                    log.warning("%s: 429 after %d retries", endpoint, retries)
                    raise
                log.info("%s: 429, every send waits %ss", endpoint, retry_seconds(exc))
            finally:
                self.pacer.done(slot)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _unpaced(self, callback: Callback, args: Any, kwargs: Any, retries: int) -> Result:
        """Make a call that sends nothing at once; wait out a 429 for it alone, and retry."""
        for attempt in itertools.count():
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= retries:
                    raise
                await self.pacer.clock.sleep(retry_seconds(exc) / self.pacer.limits.time_scale)
        raise AssertionError("unreachable")  # pragma: no cover
