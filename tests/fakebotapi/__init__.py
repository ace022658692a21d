"""A fake Telegram Bot API for end-to-end tests of the real bot.

The real python-telegram-bot ``Application`` talks to ``FakeBotAPI`` over HTTP on
127.0.0.1; tests play the users and read the chats as the users see them::

    async with FakeBotAPI() as fake:                       # or: with FakeBotAPI() as fake (thread)
        app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
        ...                                                # start polling
        fake.user_command(42, "/start")
        welcome = await fake.wait_for_text(42, "Welcome")
        fake.user_taps(42, welcome.message_id, welcome.callback_data("Yes"))
        await fake.wait_idle()

A bot process is pointed at it with ``env={**os.environ, **fake.env()}``
(TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL, TELEGRAM_BASE_FILE_URL); the fake lives in the test
process, so the bot can be killed and started again against the same state.

``fake.faults`` injects seeded faults (429, 500, 502, timeouts, dropped connections,
duplicate updates); ``rate_limits`` gives Telegram's 429 for groups over 20 messages a
minute and for more than ``max_per_second`` sends in a second, and optionally (``chat_per_second``,
``chat_burst``) for a private chat sent to faster than once a second after a short burst;
``time_scale`` runs every limit faster for time-compressed benchmarks.
"""

from .faults import Fault, FaultRule, Faults
from .markup import ApiError, parse_html
from .models import ApiCall, SentMessage, StoredFile
from .server import DEFAULT_TOKEN, FakeBotAPI

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "ApiError",
    "FakeBotAPI",
    "Fault",
    "FaultRule",
    "Faults",
    "SentMessage",
    "StoredFile",
    "parse_html",
]
