"""What goes into the engine (one inbound event) and what comes out (replies and changes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from bot.engine.record import Answer

EventKind = Literal["start", "text", "tap", "command", "other", "contact"]
Decision = Literal["likely_eligible", "needs_review", "likely_ineligible"]
ReplyKind = Literal["info", "question", "error", "urgent", "confirm", "ending"]
Expects = Literal["choice", "number", "text", "phone", "none"]
COMMANDS = frozenset({"back", "restart", "help", "language", "faq", "privacy", "delete"})
OTHER_EDITED = "edited"  # Event.other(OTHER_EDITED): the patient edited an earlier message


@dataclass(frozen=True)
class Event:
    """One thing a person did: typed text, tapped an option, or gave a command."""

    kind: EventKind
    text: str = ""
    step: str = ""  # tap: the step whose option was tapped (from the button's data)
    option: str = ""  # tap: the option id
    command: str = ""  # command: one of COMMANDS
    arg: str = ""  # start: a language tag; language: the chosen language; other: what was sent
    profile_name: str = ""  # the name the channel knows the person by (offered, never assumed)
    username: str = ""  # the person's user name on the channel, kept with their contact details

    @classmethod
    def start(cls, lang: str = "") -> Event:
        """Return the event for opening a conversation."""
        return cls("start", arg=lang)

    @classmethod
    def say(cls, text: str) -> Event:
        """Return the event for typed text."""
        return cls("text", text=text)

    @classmethod
    def tap(cls, step: str, option: str) -> Event:
        """Return the event for a tapped option of ``step``."""
        return cls("tap", step=step, option=option)

    @classmethod
    def contact(cls, phone: str) -> Event:
        """Return the event for a phone number shared with the channel's own button."""
        return cls("contact", text=phone)

    @classmethod
    def other(cls, what: str) -> Event:
        """Return the event for something the bot cannot read (a sticker, a photo, an edit)."""
        return cls("other", arg=what)

    @classmethod
    def cmd(cls, command: str, arg: str = "") -> Event:
        """Return the event for a command such as back or restart."""
        return cls("command", command=command, arg=arg)


@dataclass(frozen=True)
class Choice:
    """An option offered with a reply: its id and the label in the patient's language."""

    id: str
    label: str


@dataclass(frozen=True)
class Reply:
    """One message for the patient; a channel decides how to show it."""

    text: str
    kind: ReplyKind = "info"
    choices: tuple[Choice, ...] = ()
    expects: Expects = "none"
    step: str = ""  # the step the choices answer; channels echo it back with a tap
    clears_input: bool = False  # the previous special input (a phone-number button) is over


def ask_choice(
    text: str, options: Iterable[tuple[str, str]], step: str, kind: ReplyKind = "question"
) -> Reply:
    """Return a reply answered by tapping one of ``options`` (id and label) of ``step``."""
    choices = tuple(Choice(i, label) for i, label in options)
    return Reply(text, kind=kind, choices=choices, expects="choice", step=step)


@dataclass(frozen=True)
class Outcome:
    """What a finished screening decided, and with which flow."""

    outcome: Decision
    failed: tuple[str, ...]  # the criteria that failed
    unknown: tuple[str, ...]  # the criteria the answers could not decide
    flow: str
    flow_version: int
    protocol: str

    def to_record(self) -> dict[str, Any]:
        """Return the outcome as the conversation record keeps it (JSON-able)."""
        return {
            "outcome": self.outcome,
            "failed": list(self.failed),
            "unknown": list(self.unknown),
            "flow": self.flow,
            "flow_version": self.flow_version,
            "protocol": self.protocol,
        }


class AlertsChoice(StrEnum):
    """The patient's answer to the offer of news about other trials (the option ids)."""

    OPT_IN = "yes"
    OPT_OUT = "no"


@dataclass(frozen=True)
class Referral:
    """A hand-over to the study team: the reference code the patient was shown, and why."""

    ref: str
    outcome: str


@dataclass
class Result:
    """What one event did: the replies to send and the changes to commit first."""

    replies: list[Reply] = field(default_factory=list)
    answered: list[tuple[str, Answer]] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)  # facts whose answers were taken back
    outcome: Outcome | None = None  # set when this event decided the outcome
    alerts: AlertsChoice | None = None  # set when the patient answered the offer of other trials
    restarted: bool = False
    erase: bool = False  # the patient asked to erase everything about them, and confirmed
    consents: list[tuple[str, bool, str]] = field(
        default_factory=list
    )  # (kind, granted, words shown)
    contact: dict[str, str] | None = None  # contact details to keep (encrypted) with the referral
    referral: Referral | None = None  # set when this person is handed over to the study team
