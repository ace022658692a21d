"""Button data: one encoding, ``<kind>|<first>|<second>``, within Telegram's 64 bytes.

Two kinds travel in buttons: ``a|<step>|<option>`` (a patient's answer) and
``r|<ref>|<action>`` (a study team member's press on a referral card).
"""

from __future__ import annotations

import re

MAX_CALLBACK_BYTES = 64  # the Bot API refuses longer callback_data
ANSWER, REFERRAL = "a", "r"
_ANSWER = re.compile(r"^a\|([A-Za-z0-9_:#-]{1,48})\|([A-Za-z0-9_-]{1,24})$")
_REFERRAL = re.compile(r"^r\|(CZ-[0-9A-Z]{4}-[0-9A-Z]{4})\|([a-z_]{1,20})$")


def encode(kind: str, first: str, second: str) -> str:
    """Return ``<kind>|<first>|<second>``; raise ValueError when it is over 64 bytes."""
    data = f"{kind}|{first}|{second}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def _decode(pattern: re.Pattern[str], data: str | None) -> tuple[str, str] | None:
    """Return the two fields when ``data`` matches ``pattern``, else None."""
    match = pattern.match(data or "")
    return (match.group(1), match.group(2)) if match else None


def answer_data(step: str, option: str) -> str:
    """Return the button data for ``option`` of ``step``."""
    return encode(ANSWER, step, option)


def parse_answer(data: str | None) -> tuple[str, str] | None:
    """Return ``(step, option)`` from an answer button, or None for anything else."""
    return _decode(_ANSWER, data)


def referral_data(ref: str, action: str) -> str:
    """Return the button data for ``action`` on the referral ``ref``."""
    return encode(REFERRAL, ref, action)


def parse_referral(data: str | None) -> tuple[str, str] | None:
    """Return ``(ref, action)`` from a referral card's button, or None for anything else."""
    return _decode(_REFERRAL, data)
