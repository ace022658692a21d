"""Who is told that outbox items were queued, so a worker need not wait for its next poll.

In one process: every ``Store`` on the same database shares one list of listeners (the
services of ``python -m bot run`` each open their own ``Store``), called synchronously after
the commit. Across processes on PostgreSQL: the enqueuing transaction sends ``NOTIFY outbox``
and each worker's process LISTENs on a connection of its own (``backends/listen.py``). SQLite
has no such signal between processes: there the worker's poll finds the items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("bot.storage")

#: The PostgreSQL channel a commit that queued outbox items notifies.
CHANNEL = "outbox"
NOTIFY_SQL = f"NOTIFY {CHANNEL}"

Listener = Callable[[], None]

_listeners: dict[str, list[Listener]] = {}


def subscribe(database_key: str, listener: Listener) -> Callable[[], None]:
    """Call ``listener`` whenever items are queued on that database in this process; return
    the function that stops it."""
    _listeners.setdefault(database_key, []).append(listener)

    def unsubscribe() -> None:
        found = _listeners.get(database_key, [])
        if listener in found:
            found.remove(listener)
        if not found:
            _listeners.pop(database_key, None)

    return unsubscribe


def notify(database_key: str) -> None:
    """Tell this process's listeners on that database that items were queued."""
    for listener in list(_listeners.get(database_key, ())):
        try:
            listener()
        except Exception:
            log.exception("outbox listener failed")


class Remote(Protocol):
    """The part of a subscription that listens to other processes (PostgreSQL)."""

    async def close(self) -> None:
        """Stop listening and close the connection."""


class Subscription:
    """A listener registered with :meth:`Database.subscribe_queued`; ``close`` ends it."""

    def __init__(self, unsubscribe: Callable[[], None], remote: Remote | None) -> None:
        self._unsubscribe = unsubscribe
        self.remote = remote

    async def close(self) -> None:
        """Stop calling the listener."""
        self._unsubscribe()
        if self.remote is not None:
            await self.remote.close()
