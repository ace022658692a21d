"""Alembic environment.

Normally run through ``bot.storage.migrations.upgrade`` (``python -m bot db upgrade`` and the
bot's start-up), which hands over an open connection. Run by the ``alembic`` command line with
``-x url=...`` or DATABASE_URL, it opens the asynchronous engine itself.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from bot.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from bot.config import get_settings

    return get_settings().database_url


async def _run_online() -> None:
    from bot.storage.db import create_async, parse_url

    engine = create_async(parse_url(_url()))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
    else:
        asyncio.run(_run_online())
