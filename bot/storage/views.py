"""What the store returns: small frozen records, decrypted, with no database behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.crypto import Crypto


@dataclass(frozen=True, slots=True)
class AnswerView:
    fact: str
    value: str
    raw: str
    unit: str
    answered_at: datetime


def answer_view(crypto: Crypto, row: Any) -> AnswerView:
    """An answer row (fact, value_enc, raw_enc, unit, answered_at), decrypted."""
    fact, value_enc, raw_enc, unit, at = row
    return AnswerView(fact, crypto.decrypt(value_enc), crypto.decrypt_opt(raw_enc) or "", unit, at)


@dataclass(frozen=True, slots=True)
class ContactView:
    name: str | None
    phone: str | None
    email: str | None
    username: str | None
    best_time: str | None
    call_lang: str | None


@dataclass(frozen=True, slots=True)
class OutcomeView:
    outcome: str
    failed: list[str]
    unknown: list[str]
    flow_id: str
    protocol_version: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class ReferralDetails:
    """Everything a referral card or an export row needs, decrypted."""

    ref_code: str
    status: str
    outcome: str
    attempts: int
    created_at: datetime
    acknowledged_at: datetime | None
    reminded_at: datetime | None
    card_message_id: int | None
    user_hash: str
    chat_id: int | None
    lang: str
    source: str
    flow_id: str
    flow_version: str
    decision: OutcomeView | None  # the latest outcome of the conversation
    answers: dict[str, AnswerView]  # the latest answer to each fact
    contact: ContactView | None


@dataclass(frozen=True, slots=True)
class StatusChange:
    ref_code: str
    old: str
    new: str
    at: datetime
    first_acknowledgement: bool  # True when this change acknowledged the referral


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int  # including this one
    user_hash: str | None  # the person it concerns, if any
    chat_id: int | None  # their chat, for messages to them


@dataclass(frozen=True, slots=True)
class FunnelRow:
    """One conversation's progress, for ``/stats``."""

    lang: str
    source: str
    status: str
    consented: bool | None  # health_processing: None when never asked
    outcome: str | None
    referral_status: str | None


@dataclass(frozen=True, slots=True)
class AuditView:
    at: datetime
    actor_hash: str | None
    action: str
    subject: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed: row counts, and the team-chat cards now pointing nowhere
    (already queued for redaction)."""

    counts: dict[str, int]
    cards: list[tuple[str, int | None]]  # (reference code, card message id)
