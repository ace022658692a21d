"""PostgreSQL ``LISTEN outbox`` on a connection of its own, kept open while a worker runs.

asyncpg calls ``add_listener`` callbacks on the event loop for each notification, and
termination listeners when the connection closes. A dropped connection (a restarted server,
a terminated backend, a network cut found by the periodic check) is opened again, with a
growing pause between tries; each (re)connection also calls the listener once, for anything
queued while nobody listened. The worker's poll stays the fallback throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL

from bot.storage.queued import CHANNEL

log = logging.getLogger("bot.storage")

APPLICATION_NAME = "trialbot-outbox-listener"


class QueueListener:
    """Call ``listener`` on each ``NOTIFY outbox`` until :meth:`close`."""

    def __init__(
        self,
        url: URL,
        listener: Callable[[], None],
        *,
        retry: float = 0.5,
        retry_cap: float = 30.0,
        check_every: float = 30.0,
    ) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.listener = listener
        self.retry, self.retry_cap, self.check_every = retry, retry_cap, check_every
        self.connections = 0  # how many times it connected (for the operator and tests)
        self.listening = asyncio.Event()  # set while a connection listens
        self._task = asyncio.create_task(self._run(), name="outbox listener")

    async def close(self) -> None:
        """Stop listening and close the connection."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        pause = self.retry
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                pause = self.retry
                await self._hold(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox listener: %s; listening again soon", type(exc).__name__)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.retry_cap)

    async def _hold(self, conn: Any) -> None:
        """Listen on ``conn`` until it closes or stops answering."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, lambda *_args: self.listener())
        self.connections += 1
        self.listening.set()
        self.listener()  # anything queued while nobody listened
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):  # not wait_for: it can swallow a cancel
                async with asyncio.timeout(self.check_every):
                    await lost.wait()
            if not lost.is_set():
                await conn.execute("SELECT 1", timeout=10)
        log.info("outbox listener: the connection closed; listening again")
