"""Round trips a store makes to PostgreSQL, counted on the wire.

asyncpg writes each request to the server in one go and then waits for the answer: a simple
query (``Q``, any number of statements), a prepared statement's execution (``B``: bind, execute,
sync) or an ``executemany`` pipeline. A statement's preparation (``P``: parse, describe, sync)
is a write of its own, made once per statement and connection, and counted apart, so the
figures do not depend on which pooled connection a turn gets.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import event

from bot.storage import Store
from bot.storage.backends.postgres import PostgresBackend


class RoundTrips:
    """Counts what a store's PostgreSQL connections send, by kind of request."""

    def __init__(self, store: Store) -> None:
        backend = store.database.backend
        assert isinstance(backend, PostgresBackend)
        self.backend = backend
        self.database = store.database
        self.sent: Counter[str] = Counter()
        self._wrapped: set[int] = set()
        for _aconn, raw in backend.idle:  # connections the store keeps between uses
            self._wrap(raw)
        event.listen(backend.engine.sync_engine, "checkout", self._on_checkout)
        take = backend.take

        async def taken() -> tuple[Any, Any]:  # and those in use just now, when next taken
            aconn, raw = await take()
            self._wrap(raw)
            return aconn, raw

        backend.take = taken  # type: ignore[method-assign]

    def _on_checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        self._wrap(dbapi_connection.driver_connection)

    def _wrap(self, conn: Any) -> None:
        transport = conn._transport
        if id(transport) in self._wrapped:
            return
        self._wrapped.add(id(transport))
        write = transport.write

        def counted(data: bytes) -> None:
            self.sent[chr(data[0])] += 1
            write(data)

        transport.write = counted

    def take(self) -> int:
        """Round trips since the last call, preparations left out."""
        trips = sum(n for kind, n in self.sent.items() if kind != "P")
        self.sent.clear()
        return trips

    async def settled(self) -> int:
        """Round trips since the last call once every turn has let go of its connection and
        every NOTIFY to other processes has gone out."""
        await self.backend.settled()
        await self.database.settle()
        return self.take()
