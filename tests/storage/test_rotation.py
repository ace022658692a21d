"""Key rotation: DATA_ENCRYPTION_KEYS newest first, `rotate-key` in batches and resumable,
databases from before rotation, and the migration that encrypts answer values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from pydantic import SecretStr

from bot.config import Settings
from bot.storage import Store, WrongKeyError, commands, db
from bot.storage import models as m
from bot.storage.crypto import Crypto
from bot.storage.errors import MissingKeyError
from bot.storage.inbox import Inbox
from bot.storage.keys import ENCRYPTED
from bot.storage.migrations import alembic_config, current_revision
from tests.storage.conftest import Clock
from tests.storage.test_privacy import NAME, PHONE, TELEGRAM_ID, screen_with_contact


def with_keys(settings: Settings, *keys: str) -> Settings:
    update = {"data_encryption_key": None, "data_encryption_keys": SecretStr(",".join(keys))}
    return settings.model_copy(update=update)


async def tokens(store: Store) -> list[str]:
    """Every encrypted value in the database, and the stored lookup secret."""

    def run(conn: sa.Connection) -> list[str]:
        found = []
        for _name, table, columns in ENCRYPTED:
            for row in conn.execute(sa.select(*(table.c[c] for c in columns))):
                found += [v for v in row if v is not None]
        meta = m.meta
        secret = sa.select(meta.c.value).where(meta.c.key == "lookup_secret")
        return [*found, conn.execute(secret).scalar_one()]

    return await store.execute(run, write=False)


async def check_person(store: Store, code: str) -> None:
    details = await store.referral(code)
    assert details is not None and details.contact is not None
    assert (details.contact.name, details.contact.phone) == (NAME, PHONE)
    assert details.answers["weight"].value == "65.0" and details.answers["weight"].raw == "130斤"
    assert await store.find_chat(f"tg:{TELEGRAM_ID}") == TELEGRAM_ID


class Crash(Exception):
    pass


def test_rotation_covers_every_encrypted_column() -> None:
    """Every ``*_enc`` column of every table is in ``keys.ENCRYPTED`` (and nothing else is)."""
    in_models = {
        (table.name, column.name)
        for table in m.Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_enc")
    }
    rotated = [(table.name, c) for _name, table, columns in ENCRYPTED for c in columns]
    assert sorted(rotated) == sorted(in_models)
    assert len(set(rotated)) == len(rotated)
    assert [name for name, table, _ in ENCRYPTED] == [table.name for _, table, _ in ENCRYPTED]


async def test_rotate_key_is_resumable_and_the_old_key_can_then_go(
    settings: Settings, key: str, clock: Clock
) -> None:
    store = await Store.open(settings, clock=clock)
    code = await screen_with_contact(store)
    await screen_with_contact(store, user_id=555, base=10)
    pending = {"update_id": 900, "message": {"message_id": 1, "text": "45"}}
    await Inbox(store).receive([(900, pending), (901, pending | {"update_id": 901})])
    await Inbox(store).done(901)  # a handled update keeps no text: nothing to rotate
    await store.close()
    new = commands.keygen()
    both = with_keys(settings, new, key)

    store = await Store.open(both, clock=clock)  # the new key first: old data still reads
    await check_person(store, code)
    await store.close()

    def crash(_table: str, _rows: int) -> None:
        raise Crash  # the process dies after the first batch committed

    with pytest.raises(Crash):
        await commands.rotate_key(both, batch=2, on_batch=crash)
    store = await Store.open(both, clock=clock)
    newest = Crypto(new)
    left = [t for t in await tokens(store) if not newest.is_current(t)]
    assert left and len(left) < len(await tokens(store))  # part done, and remembered
    await store.close()

    counts = await commands.rotate_key(both, batch=2)
    assert counts["contacts"] == 2 and counts["answers"] == 2  # the rest, not the first batch
    assert counts["inbox"] == 1  # the update received and not yet handled
    store = await Store.open(with_keys(settings, new), clock=clock)  # the old key is gone
    try:
        assert all(newest.is_current(t) for t in await tokens(store))
        await check_person(store, code)
        assert [r.data for r in await Inbox(store).pending()] == [pending]
    finally:
        await store.close()
    with pytest.raises(WrongKeyError):
        await Store.open(with_keys(settings, key), clock=clock)
    assert await commands.rotate_key(with_keys(settings, new)) == dict.fromkeys(counts, 0)


async def test_a_database_from_before_rotation_keeps_working(
    settings: Settings, key: str, clock: Clock
) -> None:
    store = await Store.open(settings, clock=clock)
    code = await screen_with_contact(store)
    legacy = Crypto(key).keys[0].legacy  # the scheme before HKDF subkeys: the key itself

    def to_old_scheme(conn: sa.Connection) -> None:
        k = m.contacts
        conn.execute(sa.update(k).values(name_enc=legacy.encrypt(NAME.encode()).decode()))
        conn.execute(sa.delete(m.meta).where(m.meta.c.key == "lookup_secret"))

    await store.execute(to_old_scheme)
    await store.close()

    store = await Store.open(settings, clock=clock)
    await check_person(store, code)  # old tokens decrypt, old lookup hashes still match
    await store.close()
    new = commands.keygen()
    await commands.rotate_key(with_keys(settings, new, key))
    store = await Store.open(with_keys(settings, new), clock=clock)
    try:
        await check_person(store, code)
    finally:
        await store.close()


async def _migrate_to(url: str, revision: str) -> None:
    engine = db.create_async(db.parse_url(url))

    def run(conn: sa.Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)

    try:
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
    finally:
        await engine.dispose()


async def _revision(url: str) -> str | None:
    engine = db.create_async(db.parse_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(current_revision)
    finally:
        await engine.dispose()


async def test_the_migration_encrypts_existing_answer_values(empty_db_url: str, key: str) -> None:
    await _migrate_to(empty_db_url, "0002")
    crypto = Crypto(key)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    conversation: dict[str, Any] = {
        "user_hash": crypto.lookup("tg:5"),
        "flow_id": "nct06751199",
        "flow_version": "1",
        "lang": "en",
        "source": "",
        "status": "finished",
        "record_enc": crypto.encrypt("{}"),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    engine = db.create_async(db.parse_url(empty_db_url))
    answers = sa.table(
        "answers",
        *(sa.column(c) for c in ("conversation_id", "fact", "value", "raw_enc", "unit")),
        sa.column("answered_at", m.UTCDateTime()),
    )
    try:
        async with engine.begin() as conn:
            insert = sa.insert(m.conversations).returning(m.conversations.c.id)
            cid = (await conn.execute(insert, [conversation])).scalar_one()
            rows = [
                {"conversation_id": cid, "fact": f, "value": v, "raw_enc": None, "unit": ""}
                for f, v in (("hiv", "hiv_positive"), ("weight", "65.0"))
            ]
            await conn.execute(sa.insert(answers), [{**r, "answered_at": now} for r in rows])
    finally:
        await engine.dispose()

    no_key = Settings(database_url=empty_db_url, _env_file=None)
    with pytest.raises(MissingKeyError, match="DATA_ENCRYPTION_KEYS"):
        await commands.upgrade(no_key)
    assert await _revision(empty_db_url) == "0002"  # refused, and left as it was
    settings = Settings(database_url=empty_db_url, data_encryption_key=key, _env_file=None)
    await commands.upgrade(settings)
    store = await Store.open(settings)
    try:
        history = await store.answer_history("tg:5")
        assert [(a.fact, a.value) for a in history] == [("hiv", "hiv_positive"), ("weight", "65.0")]
        stored = await store.execute(
            lambda c: list(c.execute(sa.select(m.answers.c.value_enc)).scalars()), write=False
        )
        assert all("hiv_positive" not in v and "65.0" not in v for v in stored)
    finally:
        await store.close()


async def test_the_rotate_key_command_line(
    db_url: str, settings: Settings, key: str, clock: Clock, tmp_path: Path
) -> None:
    store = await Store.open(settings, clock=clock)
    code = await screen_with_contact(store)
    await store.close()
    new = commands.keygen()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATA_", "DATABASE_"))} | {
        "DATABASE_URL": db_url,
        "DATA_ENCRYPTION_KEYS": f"{new},{key}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "rotate-key", "--batch", "1"],
        env=env,
        cwd=tmp_path,  # no .env there
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["contacts"] == 1
    assert "can be removed" in done.stderr and NAME not in done.stderr + done.stdout
    store = await Store.open(with_keys(settings, new), clock=clock)
    try:
        await check_person(store, code)
    finally:
        await store.close()
