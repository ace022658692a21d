"""Run by test_database.py: commit one answer through the Store, then die by SIGKILL.

Not a test module. Reads DATABASE_URL and DATA_ENCRYPTION_KEY from the environment.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.config import Settings
from bot.storage import Store


async def main() -> None:
    store = await Store.open(Settings(_env_file=None))
    async with store.turn("tg:314", 2718) as turn:
        turn.save({"flow": "nct06751199", "ver": "2025-06", "lang": "en", "state": "hba1c"})
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
    print("committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close(), no checkpoint, no clean exit


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit("still alive")
