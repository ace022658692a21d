"""Alembic migrations shipped inside the package, run programmatically.

``await upgrade(engine)`` brings a database to the newest schema; at the newest schema it
changes nothing. On PostgreSQL an advisory lock makes concurrent starts of several bot
processes migrate one after the other; on SQLite ``BEGIN IMMEDIATE`` does the same. The whole
upgrade is one transaction on both databases, so a failure leaves the schema as it was.
"""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.crypto import Crypto

#: Key of the PostgreSQL advisory lock held while migrating ("trialbot" in ASCII).
MIGRATION_LOCK_KEY = 0x747269616C626F74


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "bot.storage:migrations")
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None when it has never been migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, crypto: Crypto | None = None) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
    else:
        connection.exec_driver_sql("SELECT 1")  # begins the transaction (BEGIN IMMEDIATE)
    config = alembic_config()
    config.attributes["connection"] = connection
    config.attributes["crypto"] = crypto  # for migrations that encrypt existing rows
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine, crypto: Crypto | None = None) -> None:
    """Apply every migration not yet applied, in one transaction (``crypto``: the configured
    keys, needed when a migration encrypts rows that exist)."""
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade, crypto)
        await connection.commit()
