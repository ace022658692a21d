"""What ``python -m bot db upgrade | keygen | purge`` do. The command line prints the result,
or the ``StorageError`` message and exits non-zero."""

from __future__ import annotations

from bot.config import Settings
from bot.storage import db
from bot.storage.crypto import generate_key
from bot.storage.errors import StorageError
from bot.storage.migrations import upgrade as run_migrations
from bot.storage.retention import Retention
from bot.storage.store import Store


async def upgrade(settings: Settings, *, busy_timeout: float = 5.0) -> None:
    """Apply the migrations to DATABASE_URL (the bot also calls this at start-up).
    Applying them again changes nothing."""
    url = db.parse_url(settings.database_url)
    engine = db.create_async(url, busy_timeout=busy_timeout)
    try:
        await run_migrations(engine)
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
