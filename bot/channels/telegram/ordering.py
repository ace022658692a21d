"""Handle updates from one chat in order, and different chats concurrently."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.ratelimit import FloodGuard

T = TypeVar("T")


def chat_of(update: object) -> int | None:
    """Return the chat an update belongs to, or None."""
    chat = update.effective_chat if isinstance(update, Update) else None
    return None if chat is None else chat.id


class ChatQueues:
    """Run work for one chat one at a time, in arrival order; chats run concurrently.

    A chat waits for its own earlier updates before it takes one of the ``slots``, so a
    person sending many messages queues behind themselves and holds at most one slot.
    """

    def __init__(self, slots: int = 64, flood: FloodGuard | None = None) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.flood = flood
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def run(self, update: object, work: Callable[[], Awaitable[T]], kind: str = "") -> T:
        """Wait for the chat's earlier updates and a free slot, then run ``work``.

        What a real flood may set aside (``FloodGuard``) does not wait: it is answered at once.
        """
        chat_id = chat_of(update)
        if chat_id is None:
            async with self.slots:
                return await work()
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        update_id = update.update_id if isinstance(update, Update) else 0
        flooded = self.flood is not None and self.flood.arrive(chat_id, update_id, kind)
        try:
            if flooded:
                async with self.slots:
                    return await work()
            async with lock, self.slots:
                return await work()
        finally:
            if self.flood is not None:
                self.flood.leave(chat_id, update_id)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Run updates concurrently, but one at a time (in arrival order) for each chat."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's earlier updates, then process this one."""
        chat_id = chat_of(update)
        if chat_id is None:
            await coroutine
            return
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        async with lock:
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
