"""The send pacer alone at Telegram's limits: ``python -m benchmarks.campaign_pace [CHATS]
[EACH] [SPEED]``.

A real ``ExtBot`` with the send pacer asks for ``EACH`` messages to each of ``CHATS`` private
chats all at once, against the fake Bot API with every limit on (30 a second for the bot, a
burst of 3 then one a second per chat, 429 beyond), time compressed by ``SPEED``. No bot
handlers run, so this measures the pacing, not the bot: the time the sends took beside an
ideal first-come, first-served sender of exactly 30 a second, the most sends in any second,
and the 429s. The campaign (``benchmarks/campaign.py``) measures the whole bot.
"""

from __future__ import annotations

import asyncio
import sys
import time

from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from benchmarks.campaign_figure import most_in_any
from bot.channels.telegram.sendpace import SendLimiter, SendLimits, SendPacer
from tests.fakebotapi import FakeBotAPI

CAP = 30


async def pace(chats: int, each: int, speed: float) -> dict[str, float]:
    """Send ``each`` messages to each of ``chats`` chats at once; return the figures."""
    async with FakeBotAPI(
        max_per_second=CAP, chat_per_second=1.0, chat_burst=3, time_scale=speed
    ) as fake:
        sent: list[float] = []
        fake.on_send = lambda msg, moment: sent.append(moment)
        users = range(50_000, 50_000 + chats)
        for user in users:
            fake.user_sends(user, "hi", first_name="P")  # the chat exists once they wrote
        limits = SendLimits(per_second=CAP * speed, time_scale=speed)
        bot = ExtBot(
            fake.token,
            base_url=fake.base_url,
            request=HTTPXRequest(connection_pool_size=256),
            rate_limiter=SendLimiter(SendPacer(limits)),
        )
        async with bot:
            started = time.monotonic()
            await asyncio.gather(
                *(bot.send_message(u, f"message {k}") for k in range(each) for u in users)
            )
            wall = time.monotonic() - started
        sent.sort()
        span = (sent[-1] - sent[0]) * speed
        ideal = (len(sent) - 1) / CAP
        return {
            "sends": len(sent),
            "seconds": round(span, 2),
            "ideal_seconds": round(ideal, 2),
            "cap_share": round(100 * ideal / span, 1) if span else 100.0,
            "most_in_any_second": most_in_any(sent, 1.0 / speed),
            "floods": fake.flood_errors,
            "wall_seconds": round(wall, 2),
        }


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:4]]
    chats, each, speed = (args + [100, 4, 1][len(args) :])[:3]
    print(asyncio.run(pace(int(chats), int(each), speed)))
