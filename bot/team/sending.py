"""What the outbox sends through: the channel's :class:`Sender`, the :class:`Mailer`, and the
:class:`SendError` they raise to have an item tried again."""

from __future__ import annotations

from typing import Protocol

from bot.team.cards import Card, Text


class SendError(Exception):
    """A send failed. ``reason`` is for the log and the outbox row: no personal data."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    """What the channel does for the outbox (``bot/channels/telegram/team_sender.py``)."""

    async def send_card(self, card: Card) -> int:
        """Post a referral card in the team chat; return its message id."""
        ...

    async def send_team_text(self, text: Text, *, reply_to: int | None = None) -> int:
        """Post a message in the team chat; return its message id."""
        ...

    async def send_team_document(self, filename: str, data: bytes, caption: str) -> int:
        """Post a file in the team chat; return its message id."""
        ...

    async def send_to_person(self, chat_id: int, text: str) -> None:
        """Write to a patient's own chat."""
        ...

    async def redact_card(self, message_id: int, text: Text) -> None:
        """Replace a team-chat card with ``text`` and no buttons (a card already gone is
        fine); raise SendError when it should be tried again."""
        ...

    async def replace_team_document(
        self, message_id: int, filename: str, data: bytes, caption: str
    ) -> None:
        """Replace the file of a team-chat message (a message already gone is fine); raise
        SendError when it should be tried again."""
        ...

    async def update_card(self, message_id: int, card: Card) -> None:
        """Show a card's new state in place; raise SendError to be tried again."""
        ...


class Mailer(Protocol):
    async def send(self, subject: str, body: str) -> None:
        """Send one e-mail to the handoff address; raise SendError on failure."""
        ...
