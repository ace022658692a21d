"""The clock the send pacer reads and sleeps on: the event loop's, or a test's own."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Clock(Protocol):
    """A monotonic time in seconds, and a way to wait for it or for an event."""

    def now(self) -> float:
        """Return the current monotonic time in seconds."""
        ...

    async def wait(self, event: asyncio.Event, deadline: float | None) -> None:
        """Return once ``event`` is set or ``deadline`` (a time of ``now``) has passed."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return ``seconds`` from now."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and asyncio's timers."""

    def now(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    async def wait(self, event: asyncio.Event, deadline: float | None) -> None:
        """Wait for ``event``, at most until ``deadline``."""
        if deadline is None:
            await event.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, deadline - time.monotonic()))

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``."""
        await asyncio.sleep(max(0.0, seconds))
