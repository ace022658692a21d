"""Key rotation with updates still pending in the inbox: nothing received is lost.

An update the last process received (stored in the inbox, confirmed to Telegram) but did not
handle is kept encrypted under the key of its day. ``rotate-key`` must re-encrypt it like
everything else, so the bot started afterwards with the new key alone still handles it.
"""

from __future__ import annotations

from pathlib import Path

from telegram import Bot

from bot.config import Settings
from bot.storage import Store, commands
from bot.storage import models as m
from bot.storage.crypto import Crypto
from bot.storage.inbox import Inbox
from tests.fakebotapi import FakeBotAPI
from tests.reliability.test_crash import BotProcess, handled

TEAM = -1009876543210
USER = 8301


def _settings(url: str, *keys: str) -> Settings:
    return Settings(database_url=url, data_encryption_keys=",".join(keys), _env_file=None)  # type: ignore[call-arg]


async def _received_not_handled(fake: FakeBotAPI, settings: Settings) -> int:
    """Leave a /start in the inbox as a process killed after receipt would: stored, confirmed
    to Telegram (the next getUpdates offset), not handled. Return its update id."""
    update = fake.user_command(USER, "/start", first_name="Li", language_code="en")
    update_id = int(update["update_id"])
    store = await Store.open(settings)
    try:
        assert await Inbox(store).receive([(update_id, update)]) == {update_id}
    finally:
        await store.close()
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        await bot.get_updates(offset=update_id + 1, timeout=0)
    assert not fake.pending_updates  # Telegram will not send it again
    return update_id


async def test_a_pending_update_is_handled_after_rotation_with_the_new_key_alone(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    old, new = commands.keygen(), commands.keygen()
    async with FakeBotAPI() as fake:
        fake.add_group(TEAM, "Study team", members=[777])
        await commands.upgrade(_settings(url, old))
        update_id = await _received_not_handled(fake, _settings(url, old))

        counts = await commands.rotate_key(_settings(url, new, old), batch=1)
        assert counts["inbox"] == 1
        only_new = _settings(url, new)
        store = await Store.open(only_new)
        try:
            rows = await store.execute(lambda c: c.execute(m.inbox.select()).all(), write=False)
            assert len(rows) == 1 and Crypto(new).is_current(rows[0].payload_enc)
            env = {
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_BASE_URL": fake.base_url,
                "DATABASE_URL": url,
                "DATA_ENCRYPTION_KEYS": new,
                "STUDY_TEAM_CHAT_ID": str(TEAM),
                "LOG_LEVEL": "WARNING",
            }
            bot = BotProcess(env, tmp_path, fake)
            await bot.start()
            try:
                await handled(store, update_id)  # handled at start-up: replies sent, then done
            finally:
                await bot.stop()
            assert await Inbox(store).pending() == []
        finally:
            await store.close()
        assert fake.messages(USER), "the pending /start was never answered"
