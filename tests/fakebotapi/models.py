"""What the fake records: API calls, stored files and the messages the bot sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]


@dataclass
class ApiCall:
    """One request to the fake: method, decoded parameters, time, and how it was answered."""

    method: str
    params: JSONDict
    time: float
    status: int = 0  # HTTP status answered; 0 while pending or when no answer was sent
    error: str | None = None  # the description of an error answer
    fault: str | None = None  # the injected fault, if any
    files: dict[str, str | None] = field(default_factory=dict)  # uploaded part -> filename


@dataclass
class StoredFile:
    """A file the fake knows: uploaded by the bot or sent by a simulated user."""

    file_id: str
    file_unique_id: str
    file_path: str
    filename: str | None
    mime_type: str | None
    data: bytes
    width: int = 0
    height: int = 0
    url: str | None = None  # when the bot sent an HTTP URL instead of bytes

    @property
    def size(self) -> int:
        """Return the size in bytes."""
        return len(self.data)


@dataclass(eq=False)
class SentMessage:
    """A message the bot sent, in its current state as the user sees it."""

    chat_id: int
    message_id: int
    method: str
    date: int
    text: str  # text, or caption of a document / photo, as shown (HTML tags removed)
    raw_text: str  # as the bot sent it
    parse_mode: str | None
    entities: list[JSONDict]
    reply_markup: JSONDict | None  # any markup the bot sent (inline or reply keyboard)
    reply_to: int | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    edited: bool = False
    edit_date: int | None = None
    history: list[str] = field(default_factory=list)  # earlier texts, oldest first
    deleted: bool = False

    @property
    def caption(self) -> str | None:
        """Return the caption of a document or photo, else None."""
        return self.text if self.document or self.photo else None

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """Return the inline keyboard rows (empty without one)."""
        rows = (self.reply_markup or {}).get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    @property
    def buttons(self) -> list[JSONDict]:
        """Return the inline buttons, row by row."""
        return [button for row in self.inline_keyboard for button in row]

    @property
    def labels(self) -> list[str]:
        """Return the inline buttons' texts."""
        return [str(button.get("text")) for button in self.buttons]

    def callback_data(self, label: str) -> str:
        """Return the callback_data of the inline button labelled exactly ``label``."""
        for button in self.buttons:
            if button.get("text") == label and "callback_data" in button:
                return str(button["callback_data"])
        raise LookupError(f"no button {label!r} in message {self.message_id}: {self.labels}")

    def __str__(self) -> str:
        """Return a one-line view for failure messages."""
        flags = " (edited)" if self.edited else ""
        flags += " (deleted)" if self.deleted else ""
        media = " [document]" if self.document else " [photo]" if self.photo else ""
        keys = f" {self.labels}" if self.buttons else ""
        return f"#{self.message_id}{media}{flags}: {self.text!r}{keys}"
