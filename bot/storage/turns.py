"""One update's view of a conversation: ``Turn`` buffers what the update changes.

The store reads the conversation when the turn begins and writes everything the turn buffered
in one transaction when it ends (``hotpath.py``, through the backend in ``backends/``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.engine.reference import new_reference
from bot.storage import models as m
from bot.storage.views import Erasure

Record = dict[str, Any]

__all__ = ["Erasure", "Loaded", "Record", "Save", "Turn", "Writes", "dumps"]


def dumps(data: Any) -> str:
    """JSON as the store writes it: compact, non-ASCII kept."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class Loaded:
    """What a turn found when it began."""

    duplicate: bool
    conversation_id: int | None = None
    version: int = 0
    status: str | None = None
    record: Record | None = None
    has_chat: bool = False


@dataclass(slots=True)
class Save:
    record_json: str
    status: str
    lang: str
    source: str
    flow_id: str
    flow_version: str


@dataclass(slots=True)
class Writes:
    """What a turn buffered, written in one transaction when it ends."""

    save: Save | None = None
    chat_id: int | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    contact: dict[str, str | None] | None = None
    referrals: list[dict[str, str]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    alerts: tuple[str, str] | bool | None = False  # False: untouched; None: opt out
    erase: bool = False
    erase_actor: str | None = None

    def has_children(self) -> bool:
        """True when rows hanging off the conversation are to be written."""
        return bool(
            self.answers
            or self.outcomes
            or self.consents
            or self.contact
            or self.referrals
            or self.outbox
            or self.alerts is not False
        )


class Turn:
    """One update's view of a conversation. Its methods only buffer; the store writes
    everything in one transaction when the ``async with`` block ends."""

    def __init__(self, user_hash: str, update_id: int | None, loaded: Loaded) -> None:
        #: The person's keyed hash: safe for logs (shortened) and audit lines.
        self.user_hash = user_hash
        self.update_id = update_id
        #: True when this update was already processed: do nothing, write nothing.
        self.duplicate = loaded.duplicate
        #: The engine's record (``Conversation.to_json()``), or None for a new conversation.
        self.record: Record | None = loaded.record
        self.status: str | None = loaded.status
        #: After a turn that called ``erase()``: what was removed.
        self.erasure: Erasure | None = None
        #: What the database held when the turn began.
        self.loaded = loaded
        #: What the turn will write when it ends.
        self.writes = Writes()

    @property
    def is_new(self) -> bool:
        return self.loaded.conversation_id is None

    def _check(self) -> None:
        if self.duplicate:
            raise RuntimeError("this update was already processed; nothing may be written")
        if self.writes.erase:
            raise RuntimeError("erase() ends the turn; nothing else may be written")

    def has_writes(self) -> bool:
        """True when the turn has anything to write."""
        w = self.writes
        return w.erase or w.save is not None or w.has_children()

    def save(
        self,
        record: Record,
        *,
        status: str = "active",
        lang: str | None = None,
        source: str | None = None,
        flow_id: str | None = None,
        flow_version: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Keep the engine's record (a snapshot is taken now). ``lang``, ``source``, flow id and
        version default to the record's own ``lang``, ``source``, ``flow`` and ``ver`` keys.
        ``chat_id`` (where replies go) is stored, encrypted, when the conversation has none."""
        self._check()
        if status not in m.CONVERSATION_STATUSES:
            raise ValueError(f"unknown conversation status {status!r}")
        self.writes.save = Save(
            record_json=dumps(record),
            status=status,
            lang=lang if lang is not None else str(record.get("lang", "")),
            source=source if source is not None else str(record.get("source", "")),
            flow_id=flow_id if flow_id is not None else str(record.get("flow", "")),
            flow_version=flow_version if flow_version is not None else str(record.get("ver", "")),
        )
        if chat_id is not None:
            self.writes.chat_id = chat_id
        self.record = record
        self.status = status

    def add_answer(
        self, fact: str, value: str, raw: str = "", unit: str = "", *, at: datetime | None = None
    ) -> None:
        """Keep one answer as a history row, with its time (a changed answer is another row).
        ``raw``, the patient's own words, is stored encrypted."""
        self._check()
        self.writes.answers.append(
            {"fact": fact, "value": value, "raw": raw, "unit": unit, "at": at}
        )

    def set_outcome(
        self,
        outcome: str,
        *,
        failed: Sequence[str] = (),
        unknown: Sequence[str] = (),
        flow_id: str,
        protocol_version: str,
    ) -> None:
        self._check()
        self.writes.outcomes.append(
            {
                "outcome": outcome,
                "failed": dumps(list(failed)),
                "unknown": dumps(list(unknown)),
                "flow_id": flow_id,
                "protocol_version": protocol_version,
            }
        )

    def add_consent(self, kind: str, granted: bool, wording: str, lang: str) -> None:
        """Record a consent given or declined, with the exact words shown."""
        self._check()
        self.writes.consents.append(
            {"kind": kind, "granted": granted, "wording": wording, "lang": lang}
        )

    def save_contact(
        self,
        *,
        name: str | None,
        phone: str | None,
        email: str | None = None,
        username: str | None = None,
        best_time: str | None = None,
        call_lang: str | None = None,
    ) -> None:
        """Replace the person's contact details; all but ``call_lang`` are stored encrypted."""
        self._check()
        self.writes.contact = {
            "name": name,
            "phone": phone,
            "email": email,
            "username": username,
            "best_time": best_time,
            "call_lang": call_lang,
        }

    def create_referral(self, outcome: str, code: str | None = None) -> str:
        """Create a referral (status ``new``) and return its reference code (CZ-7K3M-Q9P2).

        ``code`` is one the caller already showed the patient (made with ``new_reference``)."""
        self._check()
        code = code or new_reference()
        self.writes.referrals.append({"ref_code": code, "outcome": outcome})
        return code

    def enqueue(self, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
        """Queue an outbox message in this turn's transaction (stored encrypted). A second
        item with the same ``dedupe_key`` (e.g. the reference code) is ignored."""
        self._check()
        self.writes.outbox.append({"kind": kind, "dedupe_key": dedupe_key, "payload": payload})

    def opt_in_alerts(self, lang: str, topic: str = "diabetes_trials") -> None:
        self._check()
        self.writes.alerts = (topic, lang)

    def opt_out_alerts(self) -> None:
        self._check()
        self.writes.alerts = None

    def erase(self, *, actor_hash: str | None = None) -> None:
        """Erase everything about this person when the turn ends (``/delete``); the result is
        in ``erasure`` afterwards. ``actor_hash``: the coordinator who asked, if not the person."""
        self._check()
        if self.has_writes():
            raise RuntimeError("erase() cannot be combined with other writes in one turn")
        self.writes.erase = True
        self.writes.erase_actor = actor_hash
