"""The bot of a campaign run, in a process of its own: ``python -m benchmarks.campaign_bot SPEED``.

It is ``python -m bot run`` (``serve``: long polling, the durable receipt, the team side) with
its settings from the environment, and the team side's timings and the send pacer's windows
run ``SPEED`` times faster, as the fake Bot API's limits do (the settings TELEGRAM_MAX_RATE and
FLOOD_RATE are scaled by the caller). It stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace

from benchmarks.harness import quiet_logging
from bot.channels.telegram.app import serve
from bot.channels.telegram.sendpace import SendLimits
from bot.channels.telegram.team import TeamOptions
from bot.config import Settings


def team_options(speed: float) -> TeamOptions:
    """The team side's pacing, ``speed`` times faster (the same share of each limit)."""
    base = TeamOptions()
    worker = base.worker
    return replace(
        base,
        worker=replace(
            worker,
            poll_interval=worker.poll_interval / speed,
            digest_gather=worker.digest_gather / speed,
            backoff_base=worker.backoff_base / speed,
            backoff_cap=worker.backoff_cap / speed,
        ),
        team_window=base.team_window / speed,
        team_min_interval=base.team_min_interval / speed,
        people_per_second=round(base.people_per_second * speed),
        reminder_every=base.reminder_every / speed,
        refusal_every=base.refusal_every / speed,
    )


async def main(speed: float) -> None:
    settings = Settings()
    quiet_logging(settings.log_level)
    if os.environ.get("CAMPAIGN_KEEP_LOG"):  # the bot's log lines into the run's log file
        logging.getLogger().handlers[:] = [logging.StreamHandler()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await serve(settings, stop, team_options(speed), SendLimits.from_settings(settings, speed))


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
