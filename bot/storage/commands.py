"""What ``python -m bot db upgrade | keygen | purge | rotate-key`` do. The command line prints
the result, or the ``StorageError`` message and exits non-zero."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings
from bot.storage import db, keys
from bot.storage.crypto import Crypto, generate_key
from bot.storage.errors import StorageError
from bot.storage.migrations import upgrade as run_migrations
from bot.storage.retention import Retention
from bot.storage.store import Store


async def upgrade(settings: Settings, *, busy_timeout: float = 5.0) -> None:
    """Apply the migrations to DATABASE_URL (the bot also calls this at start-up).
    Applying them again changes nothing."""
    url = db.parse_url(settings.database_url)
    keys = settings.encryption_keys()
    crypto = Crypto(keys) if keys else None
    engine = db.create_async(url, busy_timeout=busy_timeout)
    try:
        await run_migrations(engine, crypto)
    except StorageError:
        raise
    except Exception as exc:
        raise db.unavailable(url, exc) from None
    finally:
        await engine.dispose()


def keygen() -> str:
    """A new DATA_ENCRYPTION_KEY."""
    return generate_key()


async def purge(settings: Settings) -> dict[str, int]:
    """Delete what is past RETENTION_DAYS, FINISHED_RETENTION_DAYS and REFERRAL_RETENTION_DAYS;
    returns the number of rows removed per table."""
    keep = Retention.from_settings(settings)
    store = await Store.open(settings)
    try:
        return await store.purge(
            retention_days=keep.days,
            finished_days=keep.finished_days,
            referral_days=keep.referral_days,
        )
    finally:
        await store.close()


async def rotate_key(
    settings: Settings,
    *,
    batch: int = 500,
    on_batch: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Re-encrypt every encrypted value under the newest of DATA_ENCRYPTION_KEYS, ``batch``
    rows per transaction; run it again after a crash and it goes on where it stopped.
    Returns the rows rewritten per table (``on_batch`` hears of each batch)."""
    store = await Store.open(settings)
    counts = {name: 0 for name, _table, _cols in keys.ENCRYPTED}
    try:
        while True:
            done = await store.rotate_batch(batch)
            if done is None:
                return counts
            counts[done[0]] += done[1]
            if on_batch is not None:
                on_batch(*done)
    finally:
        await store.close()
