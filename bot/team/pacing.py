"""Pacing sends to one chat so that Telegram never answers 429 in normal operation.

Telegram allows about 20 messages a minute to a group, counted over any 60 seconds.
:class:`Pacer` keeps at most ``limit`` sends in any ``window`` seconds, at least
``min_interval`` apart, and pauses everything after a 429 for its ``retry_after``.
Each send is recorded when it *ends*, later than the moment Telegram counted it, so the
pacer's window always covers Telegram's. Sends take turns; a waiting send with a lower
``priority`` number goes first (a coordinator's command before the outbox's next card).

One pacer paces one process. Several processes sending to the same team chat would each
need a share of the limit (see the README).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

INTERACTIVE = 0  # a coordinator is waiting for the answer
BACKGROUND = 1  # the outbox


class Pacer:
    """At most ``limit`` sends in any ``window`` seconds, ``min_interval`` apart."""

    def __init__(
        self,
        limit: int,
        window: float,
        min_interval: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a pacer needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.min_interval = min_interval
        self._clock = clock
        self._sent: deque[float] = deque()
        self._busy = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._blocked_until = 0.0
        self.sends = 0

    def delay(self) -> float:
        """Seconds until the next send may start (0: now)."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        wait = self._blocked_until - now
        if len(self._sent) >= self.limit:
            wait = max(wait, self._sent[len(self._sent) - self.limit] + self.window - now)
        if self._sent:
            wait = max(wait, self._sent[-1] + self.min_interval - now)
        return max(wait, 0.0)

    def block(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (Telegram said 429 with ``retry_after``)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def record(self) -> None:
        """Count a send that did not go through ``slot`` (or may have reached Telegram)."""
        self._sent.append(self._clock())
        self.sends += 1

    @property
    def idle(self) -> bool:
        return not self._busy and not self._waiters and self.delay() == 0.0

    @asynccontextmanager
    async def slot(self, priority: int = BACKGROUND) -> AsyncIterator[None]:
        """Wait for this send's turn and for the limits; the send runs inside the block."""
        await self._acquire(priority)
        try:
            while (wait := self.delay()) > 0:
                await asyncio.sleep(wait)
            yield
        finally:
            self.record()
            self._release()

    async def _acquire(self, priority: int) -> None:
        if not self._busy and not self._waiters:
            self._busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (priority, next(self._order), future)
        heapq.heappush(self._waiters, entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the turn was handed to us: pass it on
            else:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the turn passes directly: _busy stays True
                return
        self._busy = False
