"""A clock the tests move by hand, for the send pacer: no test waits for real time."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class FakeClock:
    """Monotonic time that moves only when the test says so (``run_until``)."""

    def __init__(self) -> None:
        self.t = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        """Return the clock's time."""
        return self.t

    def _timer(self, deadline: float) -> asyncio.Future[None]:
        timer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (deadline, next(self._order), timer))
        return timer

    async def wait(self, event: asyncio.Event, deadline: float | None) -> None:
        """Return once ``event`` is set or the clock reaches ``deadline``."""
        if event.is_set() or (deadline is not None and deadline <= self.t):
            return
        waiting = asyncio.ensure_future(event.wait())
        timers = [] if deadline is None else [self._timer(deadline)]
        try:
            await asyncio.wait([waiting, *timers], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            for timer in timers:
                timer.cancel()

    async def sleep(self, seconds: float) -> None:
        """Return when the clock has moved ``seconds`` on."""
        if seconds > 0:
            await self._timer(self.t + seconds)

    async def run_until(self, end: float) -> None:
        """Move time to ``end``, stopping at every timer on the way to let the tasks run."""
        await settle()
        while self._timers and self._timers[0][0] <= end:
            deadline, _, timer = heapq.heappop(self._timers)
            if timer.done():
                continue
            self.t = max(self.t, deadline)
            timer.set_result(None)
            await settle()
        self.t = max(self.t, end)
        await settle()


async def settle() -> None:
    """Return once no task is ready to run (the tests use no sockets and no real timers)."""
    loop = asyncio.get_running_loop()
    for _ in range(100_000):
        await asyncio.sleep(0)
        if not loop._ready:  # type: ignore[attr-defined]
            return
    raise AssertionError("the tasks never settled")
