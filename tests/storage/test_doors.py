"""Closing doors: the referral workflow in the store, private files, webhook and .env checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings, dotenv_warning
from bot.storage import Store, commands
from bot.storage.errors import StaleStatusError, StatusTransitionError
from tests.storage.conftest import record


async def _refer(store: Store) -> str:
    async with store.turn("tg:77", 1) as turn:
        turn.save(record("done"), status="finished")
        code = turn.create_referral("likely_eligible")
    return code


async def test_the_store_enforces_the_referral_workflow(store: Store) -> None:
    code = await _refer(store)
    with pytest.raises(StatusTransitionError):  # a forged press cannot skip to "enrolled"
        await store.set_referral_status(code, "enrolled", "tg:9001")
    with pytest.raises(StaleStatusError):  # the team's buttons treat it as a stale card
        await store.set_referral_status(code, "not_reachable", "tg:9001")
    for _ in range(3):
        await store.record_contact_attempt(code, "tg:9001")
    change = await store.set_referral_status(code, "not_reachable", "tg:9001")
    assert (change.old, change.new) == ("new", "not_reachable")
    await store.set_referral_status(code, "contacted", "tg:9001")  # called back after all
    await store.set_referral_status(code, "screen_failed", "tg:9001")
    with pytest.raises(StatusTransitionError):  # closed is closed
        await store.set_referral_status(code, "visit_scheduled", "tg:9001")
    details = await store.referral(code)
    assert details is not None and details.status == "screen_failed"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_sqlite_folder_and_files_are_private(tmp_path: Path, key: str) -> None:
    old = os.umask(0o022)  # a usual umask: files would be 0644 without care
    try:
        folder = tmp_path / "data"
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{folder / 'bot.db'}",
            data_encryption_key=key,
            _env_file=None,
        )
        await commands.upgrade(settings)
        store = await Store.open(settings)
        try:
            async with store.turn("tg:1", 1) as turn:
                turn.save(record())
            files = sorted(folder.iterdir())
            assert {f.name for f in files} >= {"bot.db", "bot.db-wal", "bot.db-shm"}
            assert _mode(folder) == 0o700
            assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        finally:
            await store.close()
    finally:
        os.umask(old)


async def test_an_old_world_readable_database_is_narrowed(tmp_path: Path, key: str) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", _env_file=None)
    await commands.upgrade(settings)
    assert _mode(path) == 0o600


def test_webhook_mode_needs_a_secret_and_https() -> None:
    def refusal(**values: object) -> str | None:
        return Settings(_env_file=None, **values).webhook_refusal()

    assert refusal() is None  # long polling
    assert "WEBHOOK_SECRET" in str(refusal(webhook_url="https://bot.example.org/telegram"))
    secret = SecretStr("a-long-random-secret")
    assert "https://" in str(refusal(webhook_url="http://bot.example.org/t", webhook_secret=secret))
    assert refusal(webhook_url="https://bot.example.org/telegram", webhook_secret=secret) is None


def test_a_readable_dotenv_is_warned_about(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    assert dotenv_warning(env) is None  # no file
    env.write_text("DATA_ENCRYPTION_KEY=x\n")
    env.chmod(0o644)
    assert "chmod 600" in str(dotenv_warning(env))
    env.chmod(0o600)
    assert dotenv_warning(env) is None


def test_encryption_keys_newest_first_and_the_old_single_key() -> None:
    assert Settings(_env_file=None).encryption_keys() == []
    one = Settings(_env_file=None, data_encryption_key="k1")
    assert one.encryption_keys() == ["k1"]
    many = Settings(
        _env_file=None,
        data_encryption_keys=" k2 , k1 ",
        data_encryption_key="k0",
    )
    assert many.encryption_keys() == ["k2", "k1"]
