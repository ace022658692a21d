"""``Store``: the one object the channels, the team side and the console hold.

Start-up::

    await bot.storage.commands.upgrade(settings)     # migrations (idempotent)
    store = await Store.open(settings)               # checks schema and key; never migrates

Per update::

    async with store.turn("tg:12345", update.update_id) as turn:
        if turn.duplicate:
            return                          # already handled: nothing to do, nothing written
        record = turn.record                # dict from Conversation.to_json(), or None if new
        ...                                 # run the engine (pure, no I/O)
        turn.save(conversation.to_json(), chat_id=chat_id)
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
    # committed here: only now send the replies

The store is a thin facade: each call is served by the module that holds it, over one shared
``Database`` (``database.py``): the backend (``backends/``: SQLite or PostgreSQL, which also
carries each turn), the keys and the clock. ``outbox.py``, ``referrals.py``, ``funnel.py``,
``audit.py``, ``people.py`` (look-ups by person), ``erasure.py`` and ``retention.py``; the
values returned are in ``views.py``. A commit that queued outbox items wakes the workers
(``subscribe_queued``, ``queued.py``). The update id is marked processed in the same transaction
as the answer: an update is either fully applied and marked, or not at all (and is handled
again when re-delivered). Personal values are encrypted (``crypto.py``) and people are found by
keyed hash; logs carry only the first characters of that hash, and counts.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from bot.config import Settings
from bot.storage import db, keys, retention
from bot.storage.audit import Audit
from bot.storage.backends import TurnSession, open_backend
from bot.storage.crypto import Crypto
from bot.storage.database import Database
from bot.storage.database import utcnow as utcnow  # the store's default clock
from bot.storage.errors import SchemaNotReadyError, StorageError, WrongKeyError
from bot.storage.funnel import funnel
from bot.storage.migrations import current_revision, head_revision
from bot.storage.outbox import Outbox
from bot.storage.people import People
from bot.storage.referrals import Referrals
from bot.storage.turns import Turn
from bot.storage.views import AnswerView as AnswerView  # the views, imported from here too
from bot.storage.views import AuditView as AuditView
from bot.storage.views import ContactView as ContactView
from bot.storage.views import Erasure
from bot.storage.views import FunnelRow as FunnelRow
from bot.storage.views import OutboxItem as OutboxItem
from bot.storage.views import OutcomeView as OutcomeView
from bot.storage.views import ReferralDetails as ReferralDetails
from bot.storage.views import StatusChange as StatusChange

log = logging.getLogger("bot.storage")

T = TypeVar("T")


def _short(user_hash: str) -> str:
    """What logs may show of a person: the first characters of their keyed hash."""
    return user_hash[:12]


class Store:
    """The bot's durable state. Open once per process with ``await Store.open(settings)``."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.url = database.url
        self.dialect = database.dialect
        self._closed = False
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        outbox, referrals = Outbox(database), Referrals(database)
        audit, people = Audit(database), People(database)
        self.enqueue = outbox.enqueue
        self.claim_outbox = outbox.claim_outbox
        self.mark_sent = outbox.mark_sent
        self.mark_failed = outbox.mark_failed
        self.release_claims = outbox.release_claims
        self.outbox_counts = outbox.outbox_counts
        self.referral = referrals.referral
        self.referrals = referrals.referrals
        self.set_referral_status = referrals.set_referral_status
        self.acknowledge = referrals.acknowledge
        self.record_contact_attempt = referrals.record_contact_attempt
        self.set_card_message = referrals.set_card_message
        self.set_digest_message = referrals.set_digest_message
        self.referrals_in_digest = referrals.referrals_in_digest
        self.referrals_to_remind = referrals.referrals_to_remind
        self.mark_reminded = referrals.mark_reminded
        self.audit = audit.audit
        self.recent_audit = audit.recent_audit
        self.find_chat = people.find_chat
        self.answer_history = people.answer_history
        self.subscribe_queued = database.subscribe_queued

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> Store:
        """Connect, check the schema is current and the key is the database's key.

        Does not migrate (call ``bot.storage.commands.upgrade`` first). Raises
        ``MissingKeyError`` / ``InvalidKeyError`` / ``WrongKeyError`` for key problems,
        ``DatabaseConfigError`` / ``DatabaseUnavailableError`` (naming DATABASE_URL) when the
        database cannot be used or is locked, and ``SchemaNotReadyError`` when it needs
        ``python -m bot db upgrade``.
        """
        crypto = Crypto(settings.encryption_keys())
        url = db.parse_url(settings.database_url)
        backend = open_backend(url, busy_timeout)
        database = Database(url, backend, crypto, clock)
        try:
            await backend.run(lambda conn: _check_database(database, conn), write=True)
        except StorageError:
            await backend.close()
            raise
        except Exception as exc:
            await backend.close()
            raise db.unavailable(url, exc) from None
        log.info("storage opened (%s)", database.dialect)
        return cls(database)

    async def close(self) -> None:
        """Close the database connections (a second call does nothing)."""
        if not self._closed:
            self._closed = True
            await self.database.settle()
            await self.database.backend.close()

    @property
    def crypto(self) -> Crypto:
        """The keys: for modules that keep encrypted rows of their own (``inbox.py``)."""
        return self.database.crypto

    def now(self) -> datetime:
        """The store's clock (tests give it a fake one)."""
        return self.database.now()

    def user_hash(self, user_key: str) -> str:
        """The keyed hash stored for a channel user id such as ``"tg:12345"``."""
        return self.database.crypto.lookup(user_key)

    def turn(self, user_key: str, update_id: int | None = None) -> TurnScope:
        """One update's transaction for the person ``user_key``:
        ``async with store.turn(user_key, update_id) as turn: ...``.

        ``Turn.duplicate`` is True when ``update_id`` was already processed (then nothing may
        be written). Leaving the block normally commits; an exception writes nothing. Send the
        replies after the block, never inside it.

        Inside the block use only the ``Turn``: on PostgreSQL it holds a pooled connection and
        the person's lock, so another ``Store`` call there would need a second connection, and
        ``erase_person`` for the same person would wait for this very turn (use
        ``Turn.erase()``). ``update_id=None`` makes a turn that is not de-duplicated (for
        work that is not a channel update).
        """
        return TurnScope(self.database, self._locks, self.user_hash(user_key), update_id)

    async def execute(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn`` in one transaction: for modules with tables of their own (``bot.web``,
        ``inbox.py``)."""
        return await self.database.run(fn, write=write)

    async def funnel(self) -> list[FunnelRow]:
        """One row per conversation: how far it got (for ``/stats``)."""
        return await funnel(self.database)

    async def rotate_batch(self, size: int = 500) -> tuple[str, int] | None:
        """One step of ``python -m bot rotate-key`` (see ``keys.rotate_batch``)."""
        return await self.database.run(lambda c: keys.rotate_batch(c, self.crypto, size))

    async def erase_person(self, user_key: str, *, actor_key: str | None = None) -> Erasure:
        """Remove every row about this person and leave an audit line without personal data.

        ``actor_key``: the coordinator who did it, when it was not the person themselves.
        Inside a turn, use ``Turn.erase()`` instead (same effect, in that turn's transaction).
        """
        actor = None if actor_key is None else self.user_hash(actor_key)
        async with self.turn(user_key) as turn:
            turn.erase(actor_hash=actor)
        assert turn.erasure is not None
        log.info("erased one person's data (%d rows)", sum(turn.erasure.counts.values()))
        return turn.erasure

    async def purge(
        self,
        now: datetime | None = None,
        retention_days: int = 30,
        *,
        finished_days: int | None = None,
        referral_days: int | None = None,
    ) -> dict[str, int]:
        """Delete what is past retention (see ``retention.purge_rows``: ``finished_days``
        unset means ``retention_days``, ``referral_days`` unset keeps referrals) and leave an
        audit line; returns row counts per table."""
        keep = retention.Retention(retention_days, finished_days, referral_days)
        counts = await retention.purge(self.database, now, keep)
        self.database.queued(notify_others=True)  # the redactions of expired cards
        return counts


def _check_database(database: Database, conn: Connection) -> None:
    """Refuse a schema that is not current, or keys that do not open the lookup secret."""
    revision = current_revision(conn)
    if revision != head_revision():
        raise SchemaNotReadyError(
            f"The database at DATABASE_URL={db.describe(database.url)} is at schema revision "
            f"{revision or 'none'}, and this version of the bot needs {head_revision()}. "
            "Run `python -m bot db upgrade`."
        )
    secret = keys.database_lookup_secret(conn, database.crypto, database.now())
    if secret is None:
        raise WrongKeyError(
            "DATA_ENCRYPTION_KEYS holds none of the keys this database was used with, so "
            "its personal data cannot be read. Nothing was changed. Put the original key "
            f"back in DATA_ENCRYPTION_KEYS (database: DATABASE_URL={db.describe(database.url)})."
        )
    database.crypto.use_lookup_secret(secret)


class TurnScope:
    """``async with store.turn(...)``: one turn at a time per person in this process, and the
    backend's turn (``backends.TurnSession``) from entering to leaving; a plain class, cheaper
    than a generator-based one."""

    __slots__ = ("database", "lock", "locks", "session", "turn", "update_id", "user_hash")

    def __init__(
        self,
        database: Database,
        locks: weakref.WeakValueDictionary[str, asyncio.Lock],
        user_hash: str,
        update_id: int | None,
    ) -> None:
        self.database = database
        self.locks = locks
        self.user_hash = user_hash
        self.update_id = update_id
        self.lock: asyncio.Lock | None = None
        self.session: TurnSession | None = None
        self.turn: Turn | None = None

    async def __aenter__(self) -> Turn:
        lock = self.locks.get(self.user_hash)
        if lock is None:
            lock = self.locks[self.user_hash] = asyncio.Lock()
        await lock.acquire()
        self.lock = lock
        try:
            backend = self.database.backend
            self.session = session = await backend.begin_turn(
                self.database, self.user_hash, self.update_id
            )
        except BaseException:
            lock.release()
            raise
        self.turn = turn = Turn(self.user_hash, self.update_id, session.loaded)
        return turn

    async def __aexit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        turn, session, lock = self.turn, self.session, self.lock
        assert turn is not None and session is not None and lock is not None
        try:
            if exc_type is None:
                await session.commit(turn)
            else:
                await session.abandon()
        finally:
            lock.release()
        if exc_type is None and (turn.writes.outbox or turn.writes.erase):
            self.database.queued(notify_others=True)  # a referral's card, or redactions
        if turn.duplicate:
            log.info("update already processed; skipped (conversation %s)", _short(turn.user_hash))
