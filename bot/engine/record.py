"""The conversation record: the whole state of one screening, small and JSON-able."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RECORD_VERSION = 1


@dataclass
class Answer:
    """One committed answer: the normalised value and the patient's own words."""

    value: str  # option id, "unknown", or a decimal in the quantity's canonical unit,
    # after a bound's sign when written as one ("<0.1"; see bot.engine.spans)
    raw: str = ""  # what the patient typed ("130斤"); empty for a tapped option
    unit: str = ""  # the unit the patient used (measurement answers only)
    confirmed: bool = False  # the bot offered its reading of the words and the patient said yes

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"v": self.value}
        if self.raw:
            data["r"] = self.raw
        if self.unit:
            data["u"] = self.unit
        if self.confirmed:
            data["c"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(
            value=data["v"],
            raw=data.get("r", ""),
            unit=data.get("u", ""),
            confirmed=bool(data.get("c", False)),
        )


@dataclass
class Conversation:
    """Everything the engine needs to continue a conversation, restored by assignment.

    ``state`` is the name of a state of the flow's one shared ``transitions`` Machine.
    ``pending`` holds a half-given answer while the bot asks for its unit;
    ``proposed`` the bot's reading of a typed answer while it asks "Do you mean ...?".
    """

    flow_id: str
    flow_version: str
    lang: str
    state: str
    answers: dict[str, Answer] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # steps answered, in order (for back)
    pending: dict[str, str] | None = None
    proposed: Answer | None = None  # a reading offered to confirm, for the current question
    outcome: dict[str, Any] | None = None
    source: str = ""  # outreach source from a deep link
    retries: int = 0  # failed attempts at the current step
    contact: dict[str, str] | None = None  # contact details while they are being collected
    agreed: bool = False  # agreed to health questions in this conversation
    urgent: list[str] = field(default_factory=list)  # urgent situations shown, to repeat at the end

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rv": RECORD_VERSION,
            "flow": self.flow_id,
            "ver": self.flow_version,
            "lang": self.lang,
            "state": self.state,
            "answers": {k: a.to_json() for k, a in self.answers.items()},
            "history": list(self.history),
        }
        if self.pending:
            data["pending"] = dict(self.pending)
        if self.proposed is not None:
            data["proposed"] = self.proposed.to_json()
        if self.outcome:
            data["outcome"] = self.outcome
        if self.source:
            data["source"] = self.source
        if self.retries:
            data["retries"] = self.retries
        if self.contact is not None:
            data["contact"] = dict(self.contact)
        if self.agreed:
            data["agreed"] = True
        if self.urgent:
            data["urgent"] = list(self.urgent)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        return cls(
            flow_id=data["flow"],
            flow_version=data["ver"],
            lang=data["lang"],
            state=data["state"],
            answers={k: Answer.from_json(v) for k, v in data.get("answers", {}).items()},
            history=list(data.get("history", [])),
            pending=data.get("pending"),
            proposed=Answer.from_json(data["proposed"]) if data.get("proposed") else None,
            outcome=data.get("outcome"),
            source=data.get("source", ""),
            retries=int(data.get("retries", 0)),
            contact=data.get("contact"),
            agreed=bool(data.get("agreed", False)),
            urgent=list(data.get("urgent", [])),
        )
