"""Buttons of the study team's chat: a referral card's actions and the open-referrals list."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.telegram.callbacks import parse_referral, referral_data
from bot.storage.store import ReferralDetails
from bot.team.cards import Card
from bot.workflow import ATTEMPT, REFERRAL_STATUSES, SHOW

ACTIONS = frozenset({*REFERRAL_STATUSES, ATTEMPT, SHOW})
LISTED = 20  # the open-referrals list shows a button for the first 20


def parse_action(data: str | None) -> tuple[str, str] | None:
    """Return ``(ref, action)`` from a card button with a known action, else None."""
    parsed = parse_referral(data)
    return parsed if parsed is not None and parsed[1] in ACTIONS else None


def two_per_row(buttons: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup | None:
    """Return the buttons two to a row, or None when there are none."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def card_keyboard(card: Card) -> InlineKeyboardMarkup | None:
    """Return the card's buttons, two to a row."""
    return two_per_row(
        [
            InlineKeyboardButton(b.label, callback_data=referral_data(card.ref, b.action))
            for b in card.buttons
        ]
    )


def open_list_keyboard(found: Sequence[ReferralDetails]) -> InlineKeyboardMarkup | None:
    """Return a button per listed referral that posts its card again."""
    return two_per_row(
        [
            InlineKeyboardButton(r.ref_code, callback_data=referral_data(r.ref_code, SHOW))
            for r in found[:LISTED]
        ]
    )
