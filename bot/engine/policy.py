"""What the bot really does with people's data, as one small value the texts are built from.

The wiring fills a :class:`DataPolicy` from the settings (retention, the team chat, the
e-mail copy) and from the channel (its name, and the sentence about where its servers
are), so /privacy, the two consents and /delete say what the code does.
:data:`SHARED_FIELDS` is what a referral card carries about the patient; the card
module exposes it and the sharing consent names every item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: Everything a referral card (team chat, e-mail copy, CSV export) carries about a patient.
SHARED_FIELDS: tuple[str, ...] = (
    "name",
    "phone",
    "username",
    "email",
    "best_time",
    "call_lang",
    "lang",
    "source",
    "outcome",
    "answers",
)

#: The contact details among them (the rest is what the screening itself found).
CONTACT_FIELDS: tuple[str, ...] = ("name", "phone", "username", "email", "best_time", "call_lang")


def channel_fields(*, usernames: bool) -> tuple[str, ...]:
    """Return the fields a card carries on a channel; a user name only where the app has one."""
    return tuple(f for f in SHARED_FIELDS if usernames or f != "username")


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


class PolicySettings(Protocol):
    """The settings a data policy is read from (``bot.config.Settings``)."""

    retention_days: int
    finished_retention_days: int | None
    referral_retention_days: int | None
    study_team_chat_id: int | None
    handoff_email: str | None


@dataclass(frozen=True)
class DataPolicy:
    """What is kept, for how long, and where contact details go."""

    abandoned_days: int = 30  # a screening left unfinished
    finished_days: int = 30  # finished, not sent to the study team (ineligible, declined)
    referral_days: int | None = None  # sent to the study team; None: as long as the study needs
    team_chat: bool = True  # referral cards go to the study team's group chat
    email_copy: bool = False  # a copy of each referral goes to the study team by e-mail
    channel: str = ""  # the chat app's name ("Telegram"); empty: no chat app (terminal)
    transit: str = ""  # the channel's sentence about where its servers are (English source)
    shared: tuple[str, ...] = channel_fields(usernames=False)  # what this channel's card carries

    @property
    def contact_fields(self) -> tuple[str, ...]:
        """The contact details kept once a patient agrees to be called (a subset of shared)."""
        return tuple(f for f in self.shared if f in CONTACT_FIELDS)

    @classmethod
    def from_settings(
        cls,
        settings: PolicySettings,
        *,
        channel: str = "",
        transit: str = "",
        usernames: bool = False,
    ) -> DataPolicy:
        """Return the policy the settings put in force."""
        finished = settings.finished_retention_days or settings.retention_days
        return cls(
            abandoned_days=settings.retention_days,
            finished_days=finished,
            referral_days=settings.referral_retention_days,
            team_chat=settings.study_team_chat_id is not None,
            email_copy=bool(settings.handoff_email),
            channel=channel,
            transit=transit,
            shared=channel_fields(usernames=usernames),
        )
