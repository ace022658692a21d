"""Logging set-up: our own lines carry no personal data, and libraries may not add any.

Library loggers are capped: python-telegram-bot logs every Bot API call's parameters (the
texts we send) at DEBUG, httpx logs request URLs, which hold the bot token, at INFO, and
transitions logs every state change at INFO.
"""

from __future__ import annotations

import logging
import sys

LIBRARY_LEVELS = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "alembic": logging.WARNING,
    # transitions logs two INFO lines per transition (state names only): noise, and a
    # measurable share of each update's cost.
    "transitions": logging.WARNING,
}


def configure_logging(level: str = "INFO") -> None:
    """Log to standard error at ``level``, with the library loggers capped."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    cap_libraries()


def cap_libraries() -> None:
    """Keep library loggers at or above the levels where they log no personal data."""
    for name, floor in LIBRARY_LEVELS.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(floor, logger.getEffectiveLevel()))
