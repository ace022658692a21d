"""Per-person flood control that slows people down instead of throwing their answers away.

Each chat has a token bucket (``burst`` updates at once, ``rate`` per second after that): an
update beyond it is not refused but waits its turn (``delay``), so someone tapping quickly
through a list of questions is only slowed down. Only a real flood, more than ``flood_queue``
of one chat's updates waiting at once, is cut short: typed text and media beyond that point
are set aside (never taps, shared contacts or commands), one polite note is sent, and the
current question is shown again once the chat's queue is empty.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

DROPPABLE = frozenset({"text", "other"})  # what a real flood may set aside


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Flood:
    waiting: int = 0
    noted: bool = False  # the polite note was sent during this flood
    reask: bool = False  # something was set aside: show the current question at the end


class FloodGuard:
    """Pace each chat to ``rate`` per second after a ``burst``; cut floods of ``flood_queue``."""

    def __init__(
        self,
        rate: float = 1.0,
        burst: int = 15,
        flood_queue: int = 24,
        max_people: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.flood_queue = flood_queue
        self.max_people = max_people
        self.clock = clock
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self._floods: dict[Hashable, _Flood] = {}
        self._flooded: set[int] = set()  # update ids that arrived during a real flood

    # -- pacing ------------------------------------------------------------------------

    def delay(self, chat_id: Hashable) -> float:
        """Take this chat's next token; return how many seconds to wait before handling.

        ``chat_id`` is any key: a Telegram chat, a WeChat user, a web client's address."""
        now = self.clock()
        bucket = self._buckets.pop(chat_id, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[chat_id] = bucket
        if len(self._buckets) > self.max_people:
            self._buckets.popitem(last=False)
        bucket.tokens -= 1
        return 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate

    # -- floods ------------------------------------------------------------------------

    def arrive(self, chat_id: Hashable, update_id: int, kind: str) -> bool:
        """Count an update waiting for this chat; True when a flood may set it aside."""
        flood = self._floods.setdefault(chat_id, _Flood())
        flood.waiting += 1
        if flood.waiting > self.flood_queue and kind in DROPPABLE:
            self._flooded.add(update_id)
            return True
        return False

    def leave(self, chat_id: Hashable, update_id: int) -> None:
        """Forget a handled update; end the chat's flood when nothing waits any more."""
        self._flooded.discard(update_id)
        flood = self._floods.get(chat_id)
        if flood is not None:
            flood.waiting -= 1
            if flood.waiting <= 0:
                del self._floods[chat_id]

    def set_aside(self, chat_id: Hashable, update_id: int, kind: str) -> bool:
        """Return True when this update came in a real flood and may be set aside."""
        if update_id not in self._flooded or kind not in DROPPABLE:
            return False
        self._floods.setdefault(chat_id, _Flood()).reask = True
        return True

    def note_due(self, chat_id: Hashable) -> bool:
        """Return True the first time in a flood (the polite note is sent once)."""
        flood = self._floods.setdefault(chat_id, _Flood())
        due, flood.noted = not flood.noted, True
        return due

    def reask_due(self, chat_id: Hashable) -> bool:
        """Return True when this is the chat's last waiting update and something was set aside."""
        flood = self._floods.get(chat_id)
        if flood is None or flood.waiting > 1 or not flood.reask:
            return False
        flood.reask = False
        return True
