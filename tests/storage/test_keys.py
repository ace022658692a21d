"""DATA_ENCRYPTION_KEY: missing, malformed, wrong."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.storage import InvalidKeyError, MissingKeyError, Store, WrongKeyError, commands
from bot.storage.crypto import Crypto
from tests.storage.conftest import Clock, pg_fetch, record


async def test_a_missing_key_says_how_to_make_one(settings: Settings) -> None:
    with pytest.raises(MissingKeyError) as caught:
        await Store.open(settings.model_copy(update={"data_encryption_key": None}))
    message = str(caught.value)
    assert "DATA_ENCRYPTION_KEY" in message and "python -m bot keygen" in message


def test_a_malformed_key_is_refused_clearly() -> None:
    for bad in ("not-a-key", "x" * 44, commands.keygen()[:-2]):
        with pytest.raises(InvalidKeyError, match="DATA_ENCRYPTION_KEY"):
            Crypto(bad)


def test_keygen_makes_distinct_working_keys() -> None:
    first, second = commands.keygen(), commands.keygen()
    assert first != second
    crypto = Crypto(first)
    assert crypto.decrypt(crypto.encrypt("李雷")) == "李雷"
    assert crypto.lookup("tg:1") == Crypto(first).lookup("tg:1") != Crypto(second).lookup("tg:1")
    assert "tg:1" not in crypto.lookup("tg:1") and len(crypto.lookup("tg:1")) == 64


async def meta(backend: str, db_url: str, store: Store) -> dict[str, str]:
    if backend == "postgresql":
        return {r[0]: r[1] for r in await pg_fetch(db_url, "SELECT key, value FROM meta")}
    from sqlalchemy import select

    from bot.storage import models as m

    rows = await store.execute(lambda c: c.execute(select(m.meta.c.key, m.meta.c.value)).all())
    return {r[0]: r[1] for r in rows}


async def test_a_wrong_key_is_refused_and_nothing_is_overwritten(
    backend: str, db_url: str, key: str, settings: Settings, clock: Clock
) -> None:
    store = await Store.open(settings, clock=clock)
    async with store.turn("tg:42", 1) as turn:
        turn.save(record())
        turn.save_contact(name="韩梅梅", phone="+86 139 0000 0000")
        code = turn.create_referral("likely_eligible")
    before = await meta(backend, db_url, store)
    assert before["key_check"] == Crypto(key).key_check
    await store.close()

    wrong = Settings(database_url=db_url, data_encryption_key=commands.keygen(), _env_file=None)
    with pytest.raises(WrongKeyError) as caught:
        await Store.open(wrong, clock=clock)
    assert "DATA_ENCRYPTION_KEY" in str(caught.value)
    assert "Nothing was changed" in str(caught.value)

    store = await Store.open(settings, clock=clock)  # the right key still works
    try:
        assert await meta(backend, db_url, store) == before
        details = await store.referral(code)
        assert details is not None and details.contact is not None
        assert details.contact.name == "韩梅梅"
    finally:
        await store.close()
